"""The benchmarks run end to end on tiny configs (numbers printed, not asserted); their measuring tools are checked."""
import importlib.util
import json
import os

import pytest
import torch

from basicsr_nafnet.archs.arch_util import LayerNorm2d
from basicsr_nafnet.bench.layernorm import PlainLayerNorm2d, benchmark_layernorm, format_layernorm_markdown
from basicsr_nafnet.bench.report import format_markdown
from basicsr_nafnet.bench.speed import PATHS, run_benchmark
from basicsr_nafnet.bench.training import TRAIN_MODES
from basicsr_nafnet.bench.timing import peak_memory
from basicsr_nafnet.errors import UserError
from basicsr_nafnet.inference.runtimes import deploy_packages_missing

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, 'scripts', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_script_quick(tmp_path, capsys):
    out_json = tmp_path / 'bench.json'
    results = load_script('benchmark').run(
        ['--quick', '--archs', 'NAFNet', 'ResidualCNN', '--paths', 'default', 'bf16', '--runs', '1', '--train-runs',
         '1', '--json', str(out_json)])
    printed = capsys.readouterr().out
    print(printed)  # shown with pytest -s: the numbers are for reading, not asserting
    saved = json.loads(out_json.read_text())
    assert list(saved['archs']) == ['NAFNet', 'ResidualCNN']
    for entry in saved['archs'].values():
        for res in entry['inference'].values():
            assert list(res) == ['eager', 'default', 'bf16']
            assert res['default']['max_abs_diff'] <= 1e-4
        assert set(entry['training']['modes']) == {'fp32', 'channels_last', 'bf16_autocast'}
    assert saved['tiled']['peak_mb'] is not None
    assert '| NAFNet |' in printed and '| ResidualCNN |' in printed and 'Tiled NAFNet' in printed
    assert format_markdown(results) in printed


def test_benchmark_script_dry_run_runs_every_path_and_training_mode(tmp_path, capsys):
    # what --device cuda runs, tiny, here: torch.compile through dynamo (graphs captured, no code generated)
    results = load_script('benchmark').run(['--dry-run', '--sizes', '32x32', '--train-size', '16x16', '--no-tiled',
                                            '--json', str(tmp_path / 'dry.json')])
    out = capsys.readouterr().out
    assert '| NAFNet | 1x3x16x16 | bf16_channels_last_compile |' in out
    entry = results['archs']['NAFNet']
    paths = entry['inference']['32x32']
    assert list(paths) == list(PATHS) and all(r['runs'] == 1 for r in paths.values())
    assert paths['compile']['compiled'] and paths['compile_unfused']['compiled']
    assert paths['compile']['max_abs_diff'] <= 1e-5 and paths['fp16']['max_abs_diff'] <= 5e-3
    assert paths['official']['max_abs_diff'] <= 1e-5 and '- NAFNet 32x32: eager ' in out  # the speed-ups over it
    modes = entry['training']['modes']
    assert list(modes) == list(TRAIN_MODES) and modes['bf16_channels_last_compile']['compiled']
    assert modes['fp32']['ratio'] == 1.0 and entry['training']['recipe']['grad_clip_norm'] == 0.01  # the GoPro file's
    assert torch.compile.__module__ == 'torch'  # the dry run's stand-in is gone again


def test_benchmark_script_reads_an_option_file(tmp_path, capsys):
    results = load_script('benchmark').run(
        ['--option-file', os.path.join(ROOT, 'options', 'demo', 'NAFNet-demo.yml'), '--train-only', '--no-tiled',
         '--train-size', '16x16', '--runs', '1', '--json', str(tmp_path / 'bench.json')])
    entry = results['archs']['NAFNet-demo']
    assert entry['config']['width'] == 16 and entry['inference'] == {}
    assert entry['training']['batch'] == 8 and entry['training']['size'] == [16, 16]  # batch from the file
    assert entry['training']['recipe']['optim_g']['lr'] == 3e-3  # and its recipe
    assert '| NAFNet-demo | 8x3x16x16 | fp32 |' in capsys.readouterr().out


def test_slow_paths_are_timed_once_then_skipped_at_larger_sizes():
    # a tiny slow_factor marks every path but eager as slow: each is timed by its warm-up call alone at
    # the first size and not run at the second
    results = run_benchmark(archs=['NAFNet'], sizes=[(16, 16), (24, 32)], paths=['default', 'bf16'], runs=2, quick=True,
                            train_size=(16, 16), train_runs=2, tiled=False, slow_factor=1e-9, log=lambda line: None)
    first, second = results['archs']['NAFNet']['inference'].values()
    assert first['eager']['runs'] == 2 and first['default']['runs'] == 1 and first['bf16']['runs'] == 1
    assert second['eager']['runs'] == 2 and 'slower than eager' in second['bf16']['skipped']
    modes = results['archs']['NAFNet']['training']['modes']
    assert modes['fp32']['runs'] == 2 and modes['bf16_autocast']['runs'] == 1
    table = format_markdown(results)
    assert '(1 call)' in table and 'not run (' in table
    # without the guard every path is timed everywhere
    results = run_benchmark(archs=['NAFNet'], sizes=[(16, 16), (24, 32)], paths=['bf16'], runs=2, quick=True,
                            train=False, tiled=False, slow_factor=0, log=lambda line: None)
    assert all(r['runs'] == 2 for res in results['archs']['NAFNet']['inference'].values() for r in res.values())


def test_cpu_peak_memory_counts_live_tensors():
    mib8 = 2 * 2**20  # float32 elements in 8 MiB

    def two_alive_then_one():
        a = torch.ones(mib8)
        b = torch.ones(mib8)
        del a
        c = torch.ones(mib8)
        return b.sum() + c.sum()

    peak = peak_memory(two_alive_then_one, torch.device('cpu'))
    assert 16 * 2**20 <= peak < 17 * 2**20


def test_plain_layernorm_matches_ours():
    x = torch.randn(2, 5, 4, 6, dtype=torch.float64, requires_grad=True)
    ours, plain = LayerNorm2d(5).double(), PlainLayerNorm2d(5).double()
    with torch.no_grad():
        ours.weight.normal_()
        ours.bias.normal_()
    plain.load_state_dict(ours.state_dict())
    grads = []
    for norm in (ours, plain):
        out = norm(x)
        (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
        grads.append((out.detach(), x.grad.clone(), norm.weight.grad.clone(), norm.bias.grad.clone()))
        x.grad = None
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-10)


def test_layernorm_benchmark_quick():
    results = benchmark_layernorm(config=dict(width=8, enc_blk_nums=[1], middle_blk_num=1, dec_blk_nums=[1]),
                                  batch=1, size=(16, 16), runs=1)
    print(format_layernorm_markdown(results))
    assert results['custom']['seconds'] > 0 and results['plain']['peak_mb'] > 0


@pytest.mark.skipif(bool(deploy_packages_missing()), reason='pip install -e .[deploy] for the runtime paths')
def test_runtime_paths_report_time_accuracy_memory_and_matmul_fraction():
    results = run_benchmark(archs=['ResidualCNN'], sizes=[(16, 24)], paths=['onnxruntime', 'openvino'], runs=1,
                            quick=True, tiled=False, train=False, log=lambda line: None)
    entry = results['archs']['ResidualCNN']
    assert entry['onnx_export_seconds'] > 0 and set(results['runtimes']) == {'onnxruntime', 'openvino'}
    for path in ('onnxruntime', 'openvino'):
        r = entry['inference']['16x24'][path]
        assert r['max_abs_diff'] <= 1e-4 and r['ratio'] > 0 and r['fraction_of_fp32_matmul'] > 0
        assert r['peak_method'] == 'rss' and r['peak_mb'] is not None and r['peak_mb'] >= 0
    assert entry['inference']['16x24']['eager']['peak_method'] == 'torch'
    table = format_markdown(results)
    assert '| onnxruntime |' in table and '(RSS)' in table and 'Peak memory of the runtimes (RSS)' in table


def test_runtime_paths_are_cpu_only():
    # 'meta' stands in for a GPU (any device but the CPU), which this machine may not have
    with pytest.raises(UserError, match='--device cpu'):
        run_benchmark(archs=['ResidualCNN'], sizes=[(16, 16)], paths=['onnxruntime'], device='meta', quick=True,
                      tiled=False, train=False, log=lambda line: None)


def test_operator_counts_official_ways_against_ours(tmp_path, capsys):
    out_json = tmp_path / 'ops.json'
    load_script('benchmark').run(['--count-ops', '--quick', '--json', str(out_json)])
    printed = capsys.readouterr().out
    counts = json.loads(out_json.read_text())['operator_counts']['NAFNet']
    inference, training = counts['inference'], counts['training']
    assert list(inference) == ['eager', 'default']
    assert list(training) == ['optimize_parameters', 'optimize_parameters_foreach_adamw', 'whole_step']
    assert inference['eager']['ratio'] == training['optimize_parameters']['ratio'] == 1.0
    for table in (inference, training):
        for c in table.values():
            assert 0 < c['compute'] <= c['leaf'] and sum(c['most_frequent'].values()) <= c['leaf']
    # the fused network folds the norms' affine and the residual scales; one fused AdamW call instead of a
    # loop over the parameters: both launch fewer operators than the official way
    assert inference['default']['compute'] < inference['eager']['compute']
    assert training['whole_step']['compute'] < training['optimize_parameters_foreach_adamw']['compute'] \
        < training['optimize_parameters']['compute']
    assert '| training | whole_step |' in printed


def test_operator_counting_counts_what_a_call_runs():
    from basicsr_nafnet.bench.operators import count_operators
    a, b = torch.rand(8), torch.rand(8)
    two = count_operators(lambda: (a + b).mul(b))
    assert two['compute'] == 2 and two['most_frequent'] == {'aten::add': 1, 'aten::mul': 1}
    # one foreach call over three tensors is one launch, however the CPU runs it inside
    one = count_operators(lambda: torch._foreach_mul([a, b, a], 2.0))
    assert one['compute'] == 1 and one['leaf'] == 1


def test_official_path_is_skipped_with_its_reason_for_other_archs():
    results = run_benchmark(archs=['Baseline', 'NAFNet'], sizes=[(16, 16)], paths=['official', 'default'], runs=1,
                            quick=True, train=False, tiled=False, log=lambda msg: None)
    assert results['archs']['Baseline']['inference']['16x16']['official'] == {
        'skipped': 'the official way is computed for NAFNet only'}
    assert results['archs']['NAFNet']['inference']['16x16']['official']['max_abs_diff'] <= 1e-5


@pytest.mark.parametrize('args, named', [
    (['--archs', 'Nope'], '--archs Nope: no benchmark configuration; choose from: NAFNet'),
    (['--quick', '--archs', 'NAFNet', 'Nope'], '--archs Nope: no benchmark configuration'),
    (['--sizes', '0x5'], "argument --sizes: size '0x5': height and width must be at least 1"),
])
def test_unknown_archs_and_empty_sizes_are_one_line(args, named, tmp_path, capsys):
    assert load_script('benchmark').main([*args, '--json', str(tmp_path / 'b.json')]) == 2
    err = capsys.readouterr().err.strip()
    assert named in err and '\n' not in err and 'Traceback' not in err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('value', ['nan', 'inf', '-1', 'fast'])
def test_slow_factor_must_be_a_finite_number_at_least_zero(value, tmp_path, capsys):
    assert load_script('benchmark').main(['--quick', '--slow-factor', value, '--json', str(tmp_path / 'b.json')]) == 2
    err = capsys.readouterr().err
    assert 'argument --slow-factor' in err and value in err and 'Traceback' not in err
    assert os.listdir(tmp_path) == []
