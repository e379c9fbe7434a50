"""``summary.md`` of the GPU check: what ran, what it measured, and where the issue's targets stand.

Takes the dict :func:`.gpu_check.run_gpu_check` writes to ``gpu_check.json`` and shows whatever it holds: a step
that failed or ran out of time shows its status and the results it saved before.
"""
__all__ = ['format_summary', 'INFERENCE_TOLERANCE', 'NOISE_FLOOR_DB']

# max abs difference to float32 eager a path may have to count as "within its tolerance" (the CUDA tests' bounds)
INFERENCE_TOLERANCE = {'fp16': 5e-3, 'bf16': 2e-2}
# float32 paths: 1e-4, as on the CPU; where cuDNN runs float32 convolutions in TF32 (PyTorch's default), eager itself
# rounds products to TF32's 10-bit mantissa and another algorithm or layout moves outputs by a few 1e-4 (2.6e-4 to
# 4.6e-4 on an H200), so the bound is TF32's unit roundoff, 2^-10
FLOAT32_TOLERANCE, TF32_TOLERANCE = 1e-4, 2.0**-10
# the smallest difference in held-out PSNR called a difference: two identical CPU demo trainings that differ only
# in rounding (NCHW vs channels_last) ended 0.06 dB apart (docs/speed.md)
NOISE_FLOOR_DB = 0.05


def _f(value, spec='.1f', missing='-'):
    return missing if value is None else format(value, spec)


def _result(results, step):
    return (results['steps'].get(step) or {}).get('result') or {}


def _network(results):
    net = results.get('network') or {}
    return f"{net.get('type', '?')} width {net.get('width', '?')}, enc {net.get('enc_blk_nums', '?')}"


def _env_lines(results):
    env = _result(results, 'env')
    if not env:
        return ['Environment: not recorded.']
    gpu = env.get('gpu') or env.get('machine')
    lines = [f"- Device: {gpu}" + (f", {env['gpu_memory_gib']:.0f} GiB, compute capability {env['capability']}, "
                                   f"{env['multiprocessors']} multiprocessors" if 'gpu' in env else ''),
             f"- Driver / CUDA / cuDNN: {env.get('nvidia_smi', '-')} / {env.get('cuda', '-')} / {env.get('cudnn', '-')}"
             f" (TF32: cuDNN {env.get('tf32_cudnn', '-')}, matmul {env.get('tf32_matmul', '-')})",
             f"- Python {env.get('python')}; " + ', '.join(f'{k} {v}' for k, v in env.get('versions', {}).items())]
    if env.get('matmul_gflops'):
        lines.append('- Matmul: ' + ', '.join(f'{k} {v / 1e3:.1f} TFLOP/s' for k, v in env['matmul_gflops'].items()))
    return lines


def _pytest_lines(results):
    res = _result(results, 'pytest')
    if 'tests' not in res:
        ran = f" (pytest {res['status']}, exit {res['returncode']}; its output is in gpu_check.log)" if res else ''
        return [f'`pytest -m cuda`: no report{ran}.']
    lines = [f"`pytest -m cuda` ({res['seconds']:.0f} s): {res['passed']} passed, {res['failures']} failed, "
             f"{res['errors']} errors, {res['skipped']} skipped."]
    lines += [f'- FAILED {name}' for name in res.get('failed_tests', [])]
    return lines


def _inference_lines(results):
    rows = []
    for step in ('inference', 'inference_compile'):
        for size, paths in _result(results, step).get('sizes', {}).items():
            for path, r in paths.items():
                if path == 'eager' and step == 'inference_compile':
                    continue  # its eager is the reference of the compile rows only; shown as their ratio
                note = '' if r.get('compiled', True) else ' (compiling failed: ran eagerly)'
                note += ' (compile step)' if step == 'inference_compile' else ''
                rows.append(f"| {size} | {path}{note} | {r['seconds'] * 1e3:.2f} | {_f(r.get('ratio'), '.2f')}x | "
                            f"{_f(r.get('peak_mb'), '.0f')} | {_f(r.get('max_abs_diff'), '.1e')} | "
                            f"{_f(r.get('compile_seconds'), '.0f')} |")
    if not rows:
        return ['Inference: no results.']
    return [f'{_network(results)}, 1 x 3 x H x W, median of the timed runs after a warm-up, against plain '
            'float32 NCHW eager of the same weights in the same step:', '',
            '| size | path | ms | speed-up | peak MB | max abs diff | compile s |',
            '| --- | --- | ---: | ---: | ---: | ---: | ---: |'] + rows


def _training_lines(results):
    lines = []
    for step in ('training', 'training_compile'):
        res = _result(results, step)
        for batch, modes in res.get('throughput', {}).items():
            for mode, r in modes.items():
                note = '' if r.get('compiled', True) else ' (compiling failed: ran eagerly)'
                lines.append(f"| {step} | {batch}x3x{res['size'][0]}x{res['size'][1]} | {mode}{note} | "
                             f"{r['it_per_s']:.2f} | {_f(r.get('ratio'), '.2f')}x | {_f(r.get('peak_mb'), '.0f')} | "
                             f"{_f(r.get('compile_seconds'), '.0f')} |")
    if not lines:
        return ['Training: no results.']
    return [f'Training step (`ImageRestorationModel.optimize_parameters`, official recipe), {_network(results)}:', '',
            '| step | batch | mode | it/s | speed-up vs fp32 | peak MB | compile s |',
            '| --- | --- | --- | ---: | ---: | ---: | ---: |'] + lines


def _learn_lines(results):
    lines = []
    for step in ('training', 'training_compile'):
        learn = _result(results, step).get('learn')
        if not learn:
            continue
        runs = learn['runs']
        noise = max(abs(runs['fp32_reordered']['delta_psnr']), NOISE_FLOOR_DB) if 'fp32_reordered' in runs else None
        lines += [f"{step}: {learn['steps']} steps of batch {learn['batch']} on synthetic GoPro-like pairs, held-out "
                  f"input PSNR {learn['input_psnr']:.3f} dB; noise = max(|fp32 on another batch order - fp32|, "
                  f"{NOISE_FLOOR_DB} dB) = {_f(noise, '.3f')} dB", '',
                  '| run | held-out PSNR | vs fp32 | loss, first -> last 10 steps | it/s | alike |',
                  '| --- | ---: | ---: | ---: | ---: | --- |']
        for run, r in runs.items():
            alike = '-' if noise is None or run.startswith('fp32') else (
                'yes' if abs(r['delta_psnr']) <= noise else 'NO')
            lines.append(f"| {run} | {r['test_psnr']:.3f} | {r['delta_psnr']:+.3f} | {r['first_loss']:.2f} -> "
                         f"{r['final_loss']:.2f} | {r['it_per_s']:.2f} | {alike} |")
        lines.append('')
    return lines[:-1] or ['Learning alike: no results.']


def _targets(results):
    """The issue's GPU targets, read off the measurements (only where they were measured)."""
    lines = []
    best = None
    tf32 = bool(_result(results, 'env').get('tf32_cudnn'))
    float32_bound = TF32_TOLERANCE if tf32 else FLOAT32_TOLERANCE
    for step in ('inference', 'inference_compile'):
        for path, r in _result(results, step).get('sizes', {}).get('720x1280', {}).items():
            precision = next((p for p in INFERENCE_TOLERANCE if path.startswith(p)), None)
            bound = INFERENCE_TOLERANCE.get(precision, float32_bound)
            within = r.get('max_abs_diff') is not None and r['max_abs_diff'] <= bound
            if within and r.get('compiled', True) and r.get('ratio') and (best is None or r['ratio'] > best[1]):
                best = (path, r['ratio'])
    if best:
        lines.append(f"- Inference at 720p, fastest path within its tolerance: {best[0]} {best[1]:.2f}x plain eager "
                     f"(target >= 3x: {'met' if best[1] >= 3 else 'not met'}; float32 paths within "
                     f"{float32_bound:.1e}{', TF32 convolutions' if tf32 else ''})")
    for step in ('training', 'training_compile'):
        for batch, modes in _result(results, step).get('throughput', {}).items():
            for mode in ('bf16_channels_last', 'bf16_channels_last_compile'):
                r = modes.get(mode)
                if r and r.get('ratio') and (step == 'training') == (mode == 'bf16_channels_last'):
                    lines.append(f"- Training batch {batch}, {mode}: {r['ratio']:.2f}x fp32 it/s (target >= 1.8x: "
                                 f"{'met' if r['ratio'] >= 1.8 else 'not met'}; learning: see above)")
    return lines + _graph_targets(results, float32_bound) or ['- Nothing measured that the targets need.']


def _graph_targets(results, float32_bound):
    res = _result(results, 'graphs')
    lines = []
    paths = {p: r for p, r in ((res.get('inference') or {}).get('720x1280') or {}).items()
             if p.endswith('graph') and 'error' not in r}
    within = {p: r for p, r in paths.items() if r.get('diff_against') == 'eager'
              and r['max_abs_diff'] <= INFERENCE_TOLERANCE.get(p.split('_')[0], float32_bound)}
    if within:
        path, r = max(within.items(), key=lambda item: item[1]['ratio'])
        lines.append(f"- CUDA graphs, inference at 720p: {path} {r['ratio']:.2f}x plain eager "
                     f"(target >= 3x: {'met' if r['ratio'] >= 3 else 'not met'})")
    graph = (res.get('training') or {}).get('fp32_graph')
    if graph and 'ratio' in graph:
        lines.append(f"- CUDA graphs, fp32 training step: {graph['ratio']:.2f}x fp32 eager it/s (target >= 2x: "
                     f"{'met' if graph['ratio'] >= 2 else 'not met'}; equal learning: see CUDA graphs)")
    return lines


def format_summary(results):
    """Markdown of a GPU check's results (complete or partial)."""
    kind = 'DRY RUN (tiny configurations: the numbers mean nothing)' if results.get('dry_run') else 'full run'
    lines = [f"# GPU check, {results['started']} ({kind}, device {results['device']})", '',
             f"{results.get('seconds', 0):.0f} s of a {results['budget_s']:.0f} s budget.", '',
             '| step | status | seconds | limit s |', '| --- | --- | ---: | ---: |']
    for name, entry in results['steps'].items():
        status = entry['status'] + (f" ({entry['reason']})" if entry.get('reason') else '')
        lines.append(f"| {name} | {status} | {_f(entry.get('seconds'), '.0f')} | {entry['limit_s']:.0f} |")
    for title, part in (('Environment', _env_lines), ('CUDA tests', _pytest_lines), ('Inference', _inference_lines),
                        ('Training', _training_lines), ('Learning alike', _learn_lines), ('Tiled', _tiled_lines),
                        ('CUDA graphs', _graphs_lines), ('Targets', _targets)):
        try:
            body = part(results)
        except (KeyError, TypeError, ValueError, AttributeError) as err:  # a step stopped half-way: show the rest
            body = [f'Incomplete results ({type(err).__name__}: {err}); see gpu_check.json.']
        if title == 'Targets' and results.get('dry_run'):
            body = ['- Dry run: nothing here is a measurement.']
        lines += ['', f'## {title}', ''] + body
    return '\n'.join(lines) + '\n'


def _tiled_lines(results):
    tiled = _result(results, 'tiled')
    if not tiled:
        return ['No results.']
    return [f"{tiled['size'][0]}x{tiled['size'][1]}, tile {tiled['tile']}, overlap {tiled['overlap']}, {tiled['path']} "
            f"path: {tiled['seconds_with_profiler']:.2f} s, peak {_f(tiled['peak_mb'], '.0f')} MB"]


def _graphs_lines(results):
    """The ``graphs`` step: inference and training step replayed from CUDA graphs, and whether they learn alike."""
    res = _result(results, 'graphs')
    if not res:
        return ['No results.']
    how = 'captured in CUDA graphs' if res.get('captured') else 'NOT captured (no CUDA: the plain callables ran)'
    lines = [f"{_network(results)}, {how}; float32 diffs with TF32 convolutions {res.get('tf32_cudnn', '-')}.", '',
             '| size | path | ms | speed-up vs eager | max abs diff | against |',
             '| --- | --- | ---: | ---: | ---: | --- |']
    for size, paths in res.get('inference', {}).items():
        if 'error' in paths:
            lines.append(f"| {size} | failed: {paths['error']} | | | | |")
            continue
        lines += [f"| {size} | {path} | failed: {r['error']} | | | |" if 'error' in r else
                  f"| {size} | {path} | {r['ms']:.2f} | {r['ratio']:.2f}x | {r['max_abs_diff']:.1e} | "
                  f"{r['diff_against']} |" for path, r in paths.items()]
    train = res.get('training') or {}
    lines += ['', 'Training step (fp32_eager: `optimize_parameters`; *_step / *_graph: forward, PSNR loss, backward, '
              f"clip_grad_norm_ foreach, fused capturable AdamW; lr {res.get('lr', '-')}):", '']
    if 'error' in train:
        lines.append(f"failed: {train['error']}")
    else:
        lines += ['| mode | it/s | ms | speed-up vs fp32_eager |', '| --- | ---: | ---: | ---: |']
        lines += [f"| {m} | failed: {r['error']} | | |" if 'error' in r else
                  f"| {m} | {r['it_per_s']:.2f} | {r['ms']:.1f} | {r['ratio']:.2f}x |" for m, r in train.items()]
    learn = res.get('learn') or {}
    if 'error' in learn or 'runs' in learn:
        lines += ['', f"Equal learning ({learn.get('steps', '-')} steps of batch {learn.get('batch', '-')}, same start "
                  'and batches, TF32 off, deterministic cuDNN):', '']
    if 'error' in learn:
        lines.append(f"failed: {learn['error']}")
    elif 'runs' in learn:
        lines += ['| run | first loss | final loss | max weight diff vs fp32_eager | vs fp32_step | '
                  'max weight change |',
                  '| --- | ---: | ---: | ---: | ---: | ---: |']
        lines += [f"| {n} | {r['first_loss']:.4f} | {r['final_loss']:.4f} | {r['max_weight_diff']:.1e} | "
                  f"{r['max_weight_diff_to_step']:.1e} | {r['max_weight_change']:.1e} |"
                  for n, r in learn['runs'].items()]
    return lines
