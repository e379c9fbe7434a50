"""The benchmark results as markdown tables and as a JSON file."""
import json

from ..fileio import atomic_write

__all__ = ['format_markdown', 'write_json']


def _fmt(value, spec, missing='-'):
    return missing if value is None else format(value, spec)


def _matmul_bounds(results):
    """(arch, size, ms, eager / ms) where the MACs are run at the measured fp32 matmul rate."""
    rate = results['matmul_gflops'].get('fp32')
    bounds = []
    for name, entry in results['archs'].items():
        macs_per_pixel = entry['macs'] / (entry['macs_size'][0] * entry['macs_size'][1])
        for size, res in entry['inference'].items():
            eager = res.get('eager', {}).get('seconds')
            if not rate or not eager:
                continue
            h, w = (int(v) for v in size.split('x'))
            seconds = 2 * macs_per_pixel * h * w / (rate * 1e9)
            bounds.append((name, size, seconds * 1e3, eager / seconds))
    return bounds


def _macs_size(results):
    sizes = {'x'.join(map(str, entry['macs_size'])) for entry in results['archs'].values()}
    return sizes.pop() if len(sizes) == 1 else '(see JSON)'


def _one_run_mark(r, results):
    return ' (1 call)' if r.get('runs', results['runs']) == 1 and results['runs'] > 1 else ''


def format_markdown(results):
    """The benchmark results as markdown tables (machine, inference per arch/size/path, training, tiled)."""
    lines = [f"Machine: {results['machine']} ({results['device']}); median of {results['runs']} interleaved runs "
             'after a warm-up.',
             f"Matmul 2048^3: fp32 {results['matmul_gflops']['fp32']:.1f} GFLOP/s, "
             f"bf16 {results['matmul_gflops']['bf16']:.1f} GFLOP/s.",
             f"Peak memory: {results['peak_memory_method']}.", '',
             f'| arch | params (M) | GMACs {_macs_size(results)} | size | path | ms | speed-up vs eager '
             '| peak MB | ms/MP | GFLOP/s | % fp32 matmul | max abs diff |',
             '| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for name, entry in results['archs'].items():
        for size, res in entry['inference'].items():
            for p, r in res.items():
                if 'skipped' in r:
                    lines.append(f"| {name} | {entry['params'] / 1e6:.3f} | {entry['macs'] / 1e9:.3f} | {size} | {p} | "
                                 f"not run ({r['skipped']}) | | | | | | |")
                    continue
                frac = r.get('fraction_of_fp32_matmul')
                peak = _fmt(r['peak_mb'], '.0f') + (' (RSS)' if r.get('peak_method') == 'rss' else '')
                lines.append(
                    f"| {name} | {entry['params'] / 1e6:.3f} | {entry['macs'] / 1e9:.3f} | {size} | {p} | "
                    f"{r['seconds'] * 1e3:.1f}{_one_run_mark(r, results)} | {_fmt(r['ratio'], '.2f')}x | "
                    f"{peak} | {r['ms_per_mp']:.0f} | {_fmt(r['gflops'], '.1f')} | "
                    f"{_fmt(frac and frac * 100, '.1f')} | "
                    f"{_fmt(r['max_abs_diff'], '.1e')} |")
    against_official = []  # NAFNet only: the official way's time over each path's
    for name, entry in results['archs'].items():
        for size, res in entry['inference'].items():
            official = res.get('official', {}).get('seconds')
            if official:
                against_official.append(f'- {name} {size}: ' + ', '.join(
                    f"{p} {official / r['seconds']:.2f}x" for p, r in res.items()
                    if p != 'official' and 'seconds' in r))
    if against_official:
        lines += ['', 'Speed-up over the official way (NAFNet as the official code computes it, float32 NCHW, '
                  'default allocator):', ''] + against_official
    if results.get('peak_memory_method_runtimes'):
        exported = [f"{name} {e['onnx_export_seconds']:.0f} s" for name, e in results['archs'].items()
                    if 'onnx_export_seconds' in e]
        lines += ['', 'Runtimes: ' + ', '.join(f'{k} {v}' for k, v in results['runtimes'].items()) +
                  ' (float32, the threads PyTorch uses); ONNX export (once per arch, fused, dynamic sizes): ' +
                  (', '.join(exported) or '-') + '.', f"Peak memory of the {results['peak_memory_method_runtimes']}."]
    bounds = _matmul_bounds(results)
    if bounds:
        lines += ['', 'At the fp32 matmul rate: the time the MACs would take running as fast as the 2048^3 matmul '
                  'above, and the speed-up over eager that would be (a yardstick of the headroom, not a hard '
                  'limit: direct convolutions can beat one large matmul):', '']
        lines += [f'- {name} {size}: {ms:.0f} ms, {ratio:.2f}x eager' for name, size, ms, ratio in bounds]
    trained = [(name, entry['training']) for name, entry in results['archs'].items() if 'training' in entry]
    if trained:
        lines += ['', 'Training step: `ImageRestorationModel.optimize_parameters` (forward, loss, backward, clipping, '
                  'optimizer step) with the recipe in the JSON; compiled modes after their compiling step.', '',
                  '| arch | train input | mode | ms / step | it/s | speed-up vs fp32 | peak MB | compile s |',
                  '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |']
    for name, t in trained:
        for mode, r in t['modes'].items():
            lines.append(f"| {name} | {t['batch']}x3x{t['size'][0]}x{t['size'][1]} | {mode} | "
                         f"{r['seconds'] * 1e3:.1f}{_one_run_mark(r, results)} | {1 / r['seconds']:.2f} | "
                         f"{_fmt(r['ratio'], '.2f')}x | {_fmt(r['peak_mb'], '.0f')} | "
                         f"{_fmt(r.get('compile_seconds'), '.0f')} |")
    if results.get('tiled'):
        t = results['tiled']
        lines += ['', f"Tiled NAFNet {t['size'][0]}x{t['size'][1]} ({t['path']} path, tile {t['tile']}, overlap "
                  f"{t['overlap']}): peak {_fmt(t['peak_mb'], '.0f')} MB, {t['seconds_with_profiler']:.1f} s "
                  '(one run, under the memory profiler).']
    if results.get('slow_factor'):
        lines += ['', f"(1 call): slower than eager by more than {results['slow_factor']:g}x in its warm-up call, "
                  'so that call is the number (and the path is not run at the larger sizes).']
    return '\n'.join(lines) + '\n'


def write_json(results, path):
    """Write ``results`` to ``path`` as JSON, atomically."""
    return atomic_write(path, json.dumps(results, indent=2))
