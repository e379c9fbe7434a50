"""The prepared GPU check runs end to end as a dry run here, so the GPU run cannot fail on a typo.

The dry run is the GPU run's code on tiny configurations: every step in this process (its Python core), one
step through ``scripts/gpu_check.sh`` in its own process (the way the GPU run starts each), and the parts that
decide what a run reports (time limits, failures, the summary's verdicts) on made-up numbers.
"""
import contextlib
import json
import os
import subprocess
import sys
import time

import pytest
import torch

from basicsr_nafnet.bench import configs, gpu_check
from basicsr_nafnet.bench.gpu_report import format_summary
from basicsr_nafnet.bench.training import learning_pairs, psnr

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_script():
    import importlib.util
    spec = importlib.util.spec_from_file_location('gpu_check_cli', os.path.join(ROOT, 'scripts', 'gpu_check.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def counted_compile(calls):
    """Instead of dynamo (traced in test_benchmark's dry run, seconds per graph here): count the modules compiled."""
    real = torch.compile

    def compile(module, **kwargs):
        calls.append(type(module).__name__)
        return module

    torch.compile = compile
    try:
        yield
    finally:
        torch.compile = real


def test_dry_run_runs_every_step(tmp_path, monkeypatch):
    out = tmp_path / 'out'
    compiled = []
    monkeypatch.setattr(configs, 'compile_without_codegen', lambda: counted_compile(compiled))
    threads = torch.get_num_threads()
    assert load_script().main([str(out), '--dry-run', '--in-process', '--device', 'cpu']) == 0
    # the inference path's fused network; the training forward of the throughput and the learning runs
    assert compiled == ['FusedNetwork', 'NAFNet', 'NAFNet']
    assert torch.get_num_threads() == threads  # the dry run's single thread is given back
    # no step files left; the log holds what pytest printed
    assert sorted(os.listdir(out)) == ['gpu_check.json', 'gpu_check.log', 'pytest-cuda.xml', 'summary.md']
    results = json.loads((out / 'gpu_check.json').read_text())
    assert results['dry_run'] and list(results['steps']) == gpu_check.STEPS
    steps = {name: entry['result'] for name, entry in results['steps'].items()}
    assert all(entry['status'] == 'ok' for entry in results['steps'].values()), results['steps']

    assert steps['env']['versions']['torch'] == torch.__version__
    assert steps['pytest']['skipped'] == steps['pytest']['tests'] > 0  # no GPU here: every CUDA test skipped
    assert steps['pytest']['status'] == 'ok' and 'tests/bench/test_cuda.py' in (out / 'gpu_check.log').read_text()
    inference = steps['inference']['sizes']['32x32']
    assert list(inference) == ['eager', 'channels_last', 'fused', 'default', 'fp16', 'bf16']
    assert inference['eager']['ratio'] == 1.0 and inference['eager']['max_abs_diff'] == 0
    assert inference['fp16']['max_abs_diff'] <= 5e-3 and inference['bf16']['max_abs_diff'] <= 2e-2
    assert steps['inference_compile']['sizes']['32x32']['compile']['compiled'] is True  # dynamo traced it
    assert steps['inference_compile']['sizes']['32x32']['compile']['max_abs_diff'] <= 1e-5
    for name, modes in (('training', ['fp32', 'bf16_autocast', 'bf16_channels_last']),
                        ('training_compile', ['fp32', 'bf16_channels_last', 'bf16_channels_last_compile'])):
        throughput = steps[name]['throughput']['2']
        assert list(throughput) == modes and throughput['fp32']['ratio'] == 1.0
        learn = steps[name]['learn']
        assert list(learn['runs']) == ['fp32', 'fp32_reordered'] + modes[1:]
        assert learn['runs']['fp32']['delta_psnr'] == 0 and len(learn['runs']['fp32']['losses']) == 3
        assert steps[name]['learn_recipe']['use_grad_clip'] is False
    assert throughput['bf16_channels_last_compile']['compiled'] is True
    assert learn['runs']['bf16_channels_last_compile']['compiled'] is True
    # the held-out input PSNR is the blurred pairs' own, recomputed here
    _, test_pairs = learning_pairs(0, 2, 32)
    expected = sum(psnr(lq[None], gt[None]) for lq, gt in test_pairs) / 2
    assert learn['input_psnr'] == pytest.approx(expected, abs=1e-9)
    assert steps['tiled']['size'] == [96, 160] and steps['tiled']['peak_mb'] > 0
    summary = (out / 'summary.md').read_text()
    assert 'DRY RUN' in summary and '| training_compile | ok |' in summary
    assert summary == format_summary(results)


def test_each_step_runs_in_its_own_process_from_the_shell_script(tmp_path):
    out = tmp_path / 'out'
    done = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'gpu_check.sh'), str(out), '--dry-run', '--device',
                           'cpu', '--steps', 'env'], env=dict(os.environ, PYTHON=sys.executable), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads((out / 'gpu_check.json').read_text())
    assert list(results['steps']) == ['env'] and results['steps']['env']['returncode'] == 0
    assert results['steps']['env']['result']['cuda_available'] == torch.cuda.is_available()
    assert '--step env' in (out / 'gpu_check.log').read_text()
    assert sorted(os.listdir(out)) == ['gpu_check.json', 'gpu_check.log', 'summary.md']


def test_shell_script_without_an_output_folder_says_how_to_call_it(tmp_path):
    for args in ([], ['--dry-run']):
        done = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'gpu_check.sh'), *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and done.stderr.startswith('usage: bash scripts/gpu_check.sh OUT_DIR')
    assert os.listdir(tmp_path) == []


def test_a_step_past_its_limit_is_stopped_with_what_it_started(tmp_path):
    log = tmp_path / 'log.txt'
    # the child starts a grandchild; both must be gone when the limit ends it
    code = ('import subprocess, sys, time; '
            'p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]); '
            'print("grandchild", p.pid, flush=True); time.sleep(60)')
    status, returncode = gpu_check._run_child([sys.executable, '-c', code], 3, str(log))
    assert (status, returncode) == ('timeout', None)
    grandchild = int(log.read_text().split('grandchild ')[1].split()[0])
    for _ in range(50):  # killed with its group; gone once reaped
        try:
            with open(f'/proc/{grandchild}/status') as f:
                if 'State:\tZ' in f.read():
                    break
        except FileNotFoundError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f'process {grandchild} outlived the step that started it')
    assert gpu_check._run_child([sys.executable, '-c', 'raise SystemExit(3)'], 30, str(log)) == ('failed', 3)


def test_a_failing_step_keeps_what_it_saved_and_the_next_steps_run(tmp_path, monkeypatch):
    def half_done(cfg, device, save):
        save({'measured': 1})
        raise RuntimeError('out of memory')

    monkeypatch.setitem(gpu_check._STEP_FUNCTIONS, 'tiled', half_done)
    results = gpu_check.run_gpu_check(str(tmp_path), dry_run=True, device='cpu', steps=['tiled', 'env'],
                                      in_process=True, log=lambda line: None)
    assert list(results['steps']) == ['env', 'tiled']  # in the check's own order
    assert results['steps']['tiled']['status'] == 'failed' and results['steps']['tiled']['result'] == {'measured': 1}
    assert 'RuntimeError: out of memory' in results['steps']['tiled']['error']
    assert results['steps']['env']['status'] == 'ok'
    summary = (tmp_path / 'summary.md').read_text()
    assert '| tiled | failed |' in summary and "Incomplete results (KeyError: 'size')" in summary


def test_steps_past_the_budget_are_skipped(tmp_path):
    results = gpu_check.run_gpu_check(str(tmp_path), dry_run=True, device='cpu', steps=['env'], budget=5,
                                      in_process=True, log=lambda line: None)
    entry = results['steps']['env']
    assert entry['status'] == 'skipped' and '5 s of the 5 s budget' in entry['reason']


def made_up_results():
    """A full run's results with hand-picked numbers, to check the summary's verdicts."""
    def inference(ratio, diff, **extra):
        return dict(seconds=0.01 / ratio, ratio=ratio, peak_mb=100, max_abs_diff=diff, **extra)

    def learn(delta):
        return dict(test_psnr=30 + delta, delta_psnr=delta, first_loss=-20, final_loss=-25, it_per_s=5)

    sizes = {'720x1280': {'eager': inference(1, 0), 'default': inference(1.5, 1e-6), 'fp16': inference(3.2, 1e-3),
                          'bf16': inference(4.0, 5e-2)}}
    compiled = {'720x1280': {'eager': inference(1, 0), 'compile': inference(3.5, 1e-6, compiled=False,
                                                                            compile_seconds=60)}}
    throughput = {'4': {'fp32': dict(seconds=0.1, it_per_s=10, ratio=1.0, peak_mb=1000),
                        'bf16_channels_last': dict(seconds=0.0625, it_per_s=16, ratio=1.6, peak_mb=600)}}
    runs = {'fp32': learn(0), 'fp32_reordered': learn(-0.02), 'bf16_autocast': learn(0.04),
            'bf16_channels_last': learn(-0.08)}
    steps = {'inference': {'sizes': sizes}, 'inference_compile': {'sizes': compiled},
             'training': {'throughput': throughput, 'size': [256, 256],
                          'learn': dict(runs=runs, steps=60, batch=4, input_psnr=28.0)}}
    return dict(dry_run=False, device='cuda', budget_s=450, started='today', seconds=400,
                network={'type': 'NAFNet', 'width': 32, 'enc_blk_nums': [1, 1, 1, 28]},
                steps={name: dict(status='ok', limit_s=60, seconds=10, result=r) for name, r in steps.items()})


def test_summary_verdicts():
    summary = format_summary(made_up_results())
    # bf16 is faster but outside its 2e-2 tolerance, compile fell back to eager: fp16 is the fastest path that counts
    assert ('720p, fastest path within its tolerance: fp16 3.20x plain eager (target >= 3x: met; float32 paths '
            'within 1.0e-04)') in summary
    assert 'compile (compiling failed: ran eagerly) (compile step)' in summary
    assert 'Training batch 4, bf16_channels_last: 1.60x fp32 it/s (target >= 1.8x: not met' in summary
    # noise = max(|-0.02|, 0.05) = 0.05 dB: +0.04 is alike, -0.08 is not
    assert '| bf16_autocast | 30.040 | +0.040 | -20.00 -> -25.00 | 5.00 | yes |' in summary
    assert '| bf16_channels_last | 29.920 | -0.080 | -20.00 -> -25.00 | 5.00 | NO |' in summary
    assert '`pytest -m cuda`: no report.' in summary and 'Environment: not recorded.' in summary


def test_float32_paths_are_held_to_tf32_rounding_where_cudnn_uses_tf32():
    results = made_up_results()
    sizes = results['steps']['inference']['result']['sizes']['720x1280']
    sizes['fp16']['ratio'] = 1.3  # now the fastest by ratio is 'default' (1.5x), 4e-4 from eager as TF32 leaves it
    sizes['default']['max_abs_diff'] = 4e-4
    assert 'fastest path within its tolerance: fp16 1.30x' in format_summary(results)  # 4e-4 > 1e-4: not counted
    results['steps']['env'] = dict(status='ok', limit_s=30, seconds=1, result=dict(tf32_cudnn=True))
    summary = format_summary(results)
    assert ('fastest path within its tolerance: default 1.50x plain eager (target >= 3x: not met; float32 paths '
            'within 9.8e-04, TF32 convolutions)') in summary
    sizes['default']['max_abs_diff'] = 2e-3  # beyond TF32 rounding too
    assert 'fastest path within its tolerance: fp16 1.30x' in format_summary(results)


def test_graphs_step_dry_run_runs_the_capture_code_path_uncaptured_on_the_cpu(tmp_path):
    out = tmp_path / 'out'
    assert load_script().main([str(out), '--dry-run', '--in-process', '--device', 'cpu', '--steps', 'env',
                               'graphs']) == 0
    results = json.loads((out / 'gpu_check.json').read_text())
    assert list(results['steps']) == ['env', 'graphs'] and results['steps']['graphs']['status'] == 'ok'
    graphs = results['steps']['graphs']['result']
    assert graphs['captured'] is False  # no CUDA here: the plain callables ran, and the results say so
    whole, tiled = graphs['inference']['32x32'], graphs['inference']['48x80']
    assert list(whole) == ['eager', 'default', 'graph', 'bf16_graph']
    assert whole['graph']['captured'] is False and whole['graph']['max_abs_diff'] <= 1e-5
    assert whole['bf16_graph']['max_abs_diff'] <= 2e-2 and whole['eager']['ratio'] == 1.0
    assert tiled['tiled_graph']['diff_against'] == 'tiled_default' and tiled['tiled_graph']['max_abs_diff'] == 0
    assert list(graphs['training']) == ['fp32_eager', 'fp32_step', 'fp32_graph', 'bf16_graph']
    assert graphs['training']['fp32_eager']['ratio'] == 1.0 and graphs['training']['fp32_graph']['it_per_s'] > 0
    learn = graphs['learn']['runs']
    assert list(learn) == ['fp32_eager', 'fp32_step', 'fp32_graph'] and graphs['learn']['steps'] == 5
    for run in learn.values():
        assert len(run['losses']) == 5 and run['final_loss'] < run['first_loss']  # it learned
        assert run['max_weight_diff'] <= 1e-6 and run['max_weight_change'] > 1e-3  # alike, and not standing still
    assert learn['fp32_graph']['max_weight_diff_to_step'] == 0  # warm-up steps then the step: the same sequence
    summary = (out / 'summary.md').read_text()
    assert 'NOT captured (no CUDA' in summary and '| 48x80 | tiled_graph |' in summary


def test_graph_targets_read_the_720p_graph_paths_and_the_fp32_graph_step():
    results = made_up_results()
    graphs = {'720x1280': {'eager': dict(ms=30, ratio=1.0, max_abs_diff=0, diff_against='eager'),
                           'graph': dict(ms=9, ratio=3.3, max_abs_diff=5e-5, diff_against='eager'),
                           'bf16_graph': dict(ms=6, ratio=5.0, max_abs_diff=3e-2, diff_against='eager')}}
    training = {'fp32_eager': dict(it_per_s=8, ms=125, ratio=1.0), 'fp32_graph': dict(it_per_s=14, ms=71, ratio=1.75)}
    results['steps']['graphs'] = dict(status='ok', limit_s=150, seconds=60,
                                      result=dict(captured=True, inference=graphs, training=training))
    summary = format_summary(results)
    # bf16 is faster but outside its 2e-2 tolerance
    assert '- CUDA graphs, inference at 720p: graph 3.30x plain eager (target >= 3x: met)' in summary
    assert '- CUDA graphs, fp32 training step: 1.75x fp32 eager it/s (target >= 2x: not met' in summary
    assert '| 720x1280 | bf16_graph | 6.00 | 5.00x | 3.0e-02 | eager |' in summary


def test_a_graph_that_cannot_be_captured_records_its_error_and_the_rest_is_measured(tmp_path, monkeypatch):
    from basicsr_nafnet.bench import graphs as graphs_step

    def refuse(self, warmup_batches):
        raise RuntimeError('operation not permitted when stream is capturing')

    monkeypatch.setattr(graphs_step.WholeStep, 'capture', refuse)
    results = gpu_check.run_gpu_check(str(tmp_path), dry_run=True, device='cpu', steps=['graphs'], in_process=True,
                                      log=lambda line: None)
    graphs = results['steps']['graphs']['result']
    assert results['steps']['graphs']['status'] == 'ok'
    training = graphs['training']
    assert list(training) == ['fp32_eager', 'fp32_step', 'fp32_graph', 'bf16_graph']
    assert training['fp32_step']['it_per_s'] > 0 and 'not permitted' in training['bf16_graph']['error']
    assert 'not permitted' in graphs['learn']['error'] and graphs['inference']['32x32']['graph']['max_abs_diff'] < 1e-5
    summary = (tmp_path / 'summary.md').read_text()
    assert '| fp32_graph | failed: RuntimeError: operation not permitted' in summary
