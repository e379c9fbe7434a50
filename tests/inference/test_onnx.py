"""ONNX export and the ONNX Runtime / OpenVINO execution paths: every arch family exported with dynamic sizes and
run in both runtimes, .onnx files as model specs, the export cache of --runtime, scripts/export.py, missing packages
and files that are not ONNX models.

Exports take seconds each, so each network is exported once (module fixture) and shared; the CLI tests export the
smallest arch.
"""
import importlib.util
import os
import sys

import cv2
import numpy as np
import pytest
import torch
from basicsr.archs import build_network
from tiny_sets import make_pairs, write_folder_set

from basicsr_nafnet.archs.tlc import LocalAvgPool2d, _box_mean_traced
from basicsr_nafnet.bench.configs import TINY_CONFIGS
from basicsr_nafnet.errors import UserError
from basicsr_nafnet.evaluation import run_leaderboard
from basicsr_nafnet.inference import build_model, export_cache, parse_model_spec
from basicsr_nafnet.inference.open import check_runtime
from basicsr_nafnet.inference.export import VerificationError, export_onnx, verify_onnx
from basicsr_nafnet.inference.runtimes import (MissingPackageError, OnnxRuntimeRunner, OpenVINORunner,
                                               check_onnx_file, deploy_packages_missing, require)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MISSING = deploy_packages_missing()
needs_deploy = pytest.mark.skipif(bool(MISSING), reason=f'not installed: {MISSING} (pip install -e .[deploy])')

EXPORTED = ['NAFNet', 'NAFNetLocal', 'Baseline', 'DeblurUNet', 'ResidualCNN']
# the tiny configurations with one level instead of two: exporting traces every op with symbolic sizes, and three
# blocks export in about 60 % of the time of five
CONFIGS = {name: dict(TINY_CONFIGS[name], **({} if name == 'ResidualCNN' else dict(enc_blk_nums=[1], dec_blk_nums=[1])))
           for name in EXPORTED}
NAFNET_SPEC = 'NAFNet:width=8,enc_blk_nums=[1],middle_blk_num=1,dec_blk_nums=[1]'
RCNN_SPEC = 'ResidualCNN:num_feat=8,num_block=2'
# batch x H x W: an odd size, and a batch of two; NAFNetLocal's tiny window is 24 x 24 at full resolution, so its
# pooling is local along both axes in the first and along W only in the second
SIZES = [(1, 37, 53), (2, 24, 34)]


def _load_script(name):
    spec = importlib.util.spec_from_file_location(f'{name}_cli', os.path.join(ROOT, 'scripts', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_net(name, seed=0, scale=0.1):
    """A tiny arch with every branch active (beta/gamma away from zero)."""
    torch.manual_seed(seed)
    net = build_network({'type': name, **CONFIGS[name]})
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * scale)
    return net.eval()


def save_checkpoint(name, path, seed=0):
    net = random_net(name, seed)
    torch.save({'params': net.state_dict()}, path)
    return net


def rcnn_checkpoint(path, seed=0):
    return save_checkpoint('ResidualCNN', path, seed)


def dims(path, which='input'):
    import onnx
    graph = onnx.load(str(path)).graph
    value = (graph.input if which == 'input' else graph.output)[0]
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """``{arch: (network, .onnx path)}``, each exported once; NAFNet's weights are also saved as ``nafnet.pth``."""
    if MISSING:
        pytest.skip(f'not installed: {MISSING}')
    folder = tmp_path_factory.mktemp('onnx')
    out = {}
    for name in EXPORTED:
        net = save_checkpoint(name, folder / 'nafnet.pth') if name == 'NAFNet' else random_net(name)
        path = str(folder / f'{name}.onnx')
        export_onnx(net, path)
        out[name] = (net, path)
    return out


# ------------------------------------------------------------------------------------------------ export


def test_traced_tlc_pooling_is_the_eager_pooling():
    # the formulation torch.export traces, against the eager one (global where the window covers the map)
    torch.manual_seed(0)
    for h, w in [(1, 1), (2, 3), (5, 7), (24, 24), (37, 53), (100, 30)]:
        for window in [(1, 1), (3, 5), (24, 24), (4, 100), (200, 200)]:
            x = torch.rand(2, 4, h, w) * 3 + 1
            pool = LocalAvgPool2d(window)
            assert torch.allclose(_box_mean_traced(x, *pool.window), pool(x).expand_as(x), atol=2e-6), (h, w, window)


@needs_deploy
@pytest.mark.parametrize('runtime', ['onnxruntime', 'openvino'])
@pytest.mark.parametrize('name', EXPORTED)
def test_export_runs_at_any_size_in_both_runtimes(exported, name, runtime):
    net, path = exported[name]
    assert dims(path, 'input') == ['batch', 3, 'height', 'width']
    assert dims(path, 'output') == ['batch', 3, 'height', 'width']
    runner = (OnnxRuntimeRunner if runtime == 'onnxruntime' else OpenVINORunner)(path)
    generator = torch.Generator().manual_seed(1)
    for n, h, w in SIZES:
        x = torch.rand(n, 3, h, w, generator=generator)
        with torch.no_grad():
            ref = net(x)
        out = runner(x)
        assert out.shape == x.shape and out.dtype == torch.float32
        # 1e-4 for outputs in image range; random DeblurUNet weights give larger outputs
        assert (out - ref).abs().max().item() <= 1e-4 * max(1.0, ref.abs().max().item()), (n, h, w)


@needs_deploy
def test_runtime_runner_contract(exported):
    runner = OnnxRuntimeRunner(exported['ResidualCNN'][1])
    with pytest.raises(ValueError, match='float32'):
        runner(torch.rand(1, 3, 8, 8, dtype=torch.float64))  # OpenVINO would convert it silently
    with pytest.raises(ValueError, match='N x C x H x W'):
        runner(torch.rand(3, 8, 8))
    with torch.inference_mode():  # as the leaderboard calls it
        assert runner(torch.rand(1, 3, 9, 11)).shape == (1, 3, 9, 11)


@needs_deploy
def test_verification_catches_a_different_network(exported):
    path = exported['ResidualCNN'][1]
    assert len(verify_onnx(exported['ResidualCNN'][0], path, sizes=[(1, 9, 11)])) == 1
    with pytest.raises(VerificationError, match='differs from PyTorch'):
        verify_onnx(random_net('ResidualCNN', seed=5), path, sizes=[(1, 9, 11)])


# ------------------------------------------------------------------------------------------------ model specs


@needs_deploy
def test_onnx_spec_in_the_leaderboard_scores_as_pytorch(exported, tmp_path):
    data = write_folder_set(tmp_path / 'set', make_pairs())
    ckpt = os.path.join(os.path.dirname(exported['NAFNet'][1]), 'nafnet.pth')
    result = run_leaderboard(data, [f'{NAFNET_SPEC}@{ckpt}', exported['NAFNet'][1]], tile=24, overlap=8)
    rows = {(r['name'], r['variant']): r for r in result['rows']}
    for variant in ('plain', 'tile24'):
        torch_row, onnx_row = rows[('NAFNet-nafnet', variant)], rows[('NAFNet.onnx', f'{variant} (onnxruntime)')]
        assert abs(torch_row['psnr'] - onnx_row['psnr']) <= 0.01
        assert abs(torch_row['ssim'] - onnx_row['ssim']) <= 1e-4
        assert onnx_row['engine'] == 'onnxruntime' and 'onnxruntime' in onnx_row['device']
    assert rows[('NAFNet.onnx', 'plain (onnxruntime)')]['macs'] is None
    assert '| NAFNet.onnx | plain (onnxruntime) |' in result['markdown']


@needs_deploy
def test_runtime_exports_once_beside_the_checkpoint(tmp_path, monkeypatch):
    data = write_folder_set(tmp_path / 'set', make_pairs())
    rcnn_checkpoint(tmp_path / 'rc.pth')
    spec = f'{RCNN_SPEC}@{tmp_path / "rc.pth"}'
    eager = run_leaderboard(data, [spec])['rows'][1]
    first = run_leaderboard(data, [spec], runtime='onnxruntime')['rows'][1]
    cached = sorted(f for f in os.listdir(tmp_path) if f.endswith('.onnx'))
    assert len(cached) == 1 and cached[0].startswith('rc.') and len(cached[0]) == len('rc.0123456789abcdef.onnx')
    assert abs(first['psnr'] - eager['psnr']) <= 0.01 and first['variant'] == 'plain (onnxruntime)'

    def no_export(*args, **kwargs):
        raise AssertionError('exported again')

    monkeypatch.setattr(export_cache, 'export_onnx', no_export)
    again = run_leaderboard(data, [spec], runtime='openvino')['rows'][1]  # the same file serves both runtimes
    assert abs(again['psnr'] - eager['psnr']) <= 0.01 and again['engine'] == 'openvino'
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith('.onnx')) == cached
    # other weights or other arch options make another file
    parsed = parse_model_spec(spec)
    net = build_model(parsed)
    path = export_cache.export_cache_path(parsed, net)
    assert os.path.basename(path) == cached[0]
    assert export_cache.export_cache_path(parsed, random_net('ResidualCNN', seed=3)) != path
    assert export_cache.export_cache_path(parsed, net, extra={'tlc_train_size': 256}) != path


@needs_deploy
def test_deblur_runs_an_onnx_file(exported, tmp_path):
    deblur_cli = _load_script('deblur')
    src = tmp_path / 'in'
    src.mkdir()
    from skimage import data as skdata
    cv2.imwrite(str(src / 'a.png'), skdata.astronaut()[100:137, 120:173, ::-1].copy())
    ckpt = os.path.join(os.path.dirname(exported['NAFNet'][1]), 'nafnet.pth')
    assert deblur_cli.main(['-i', str(src), '-o', str(tmp_path / 'pt'), '--model', f'{NAFNET_SPEC}@{ckpt}', '--tile',
                            '32']) == 0
    for runtime in ('onnxruntime', 'openvino'):
        assert deblur_cli.main(['-i', str(src), '-o', str(tmp_path / runtime), '--model', exported['NAFNet'][1],
                                '--runtime', runtime, '--tile', '32']) == 0
        a = cv2.imread(str(tmp_path / 'pt' / 'a.png')).astype(int)
        b = cv2.imread(str(tmp_path / runtime / 'a.png')).astype(int)
        assert a.shape == b.shape == (37, 53, 3) and np.abs(a - b).max() <= 1


# ------------------------------------------------------------------------------------------------ scripts/export.py


@needs_deploy
def test_export_script_exports_and_verifies(tmp_path, capsys, monkeypatch):
    export_cli = _load_script('export')
    rcnn_checkpoint(tmp_path / 'rc.pth')
    model = f'{RCNN_SPEC}@{tmp_path / "rc.pth"}'
    assert export_cli.main(['--model', model, '--out', str(tmp_path / 'rc.onnx')]) == 0
    out = capsys.readouterr().out
    assert 'max abs diff' in out and '1x3x397x517' in out and '2x3x128x192' in out
    assert check_onnx_file(str(tmp_path / 'rc.onnx')) == ('batch', 3, 'height', 'width')

    assert export_cli.main(['--model', model, '--out', str(tmp_path / 'static.onnx'), '--static', '20x30']) == 0
    assert check_onnx_file(str(tmp_path / 'static.onnx')) == (1, 3, 20, 30)
    runner = OnnxRuntimeRunner(str(tmp_path / 'static.onnx'))
    assert runner(torch.rand(1, 3, 20, 30)).shape == (1, 3, 20, 30)
    with pytest.raises(ValueError, match='static'):
        runner(torch.rand(1, 3, 21, 30))

    # a graph that computes something else is reported in one line, exit 1, and not kept
    monkeypatch.setattr(importlib.import_module('basicsr_nafnet.commands.export'), 'VERIFY_TOLERANCE', -1.0)
    assert export_cli.main(['--model', model, '--out', str(tmp_path / 'bad.onnx')]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith('error')]
    assert len(err) == 1 and 'differs from PyTorch' in err[0] and 'not written' in err[0]
    assert not [f for f in os.listdir(tmp_path) if f.startswith(('bad', '.bad'))]


# ------------------------------------------------------------------------------------------------ refusals


def test_missing_package_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)  # an import of it now fails, as when not installed
    with pytest.raises(MissingPackageError, match=r"'onnxruntime'.*pip install -e \.\[deploy\]"):
        require('onnxruntime', 'running net.onnx')
    export_cli = _load_script('export')
    torch.save({'params': random_net('ResidualCNN').state_dict()}, tmp_path / 'rc.pth')
    status = export_cli.main(['--model', f'{RCNN_SPEC}@{tmp_path / "rc.pth"}', '--out', str(tmp_path / 'x.onnx')])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1 and 'onnxruntime' in err[0] and 'pip install -e .[deploy]' in err[0]
    assert not (tmp_path / 'x.onnx').exists()


def _not_onnx_files(folder):
    import onnx
    files = {'random.onnx': np.random.default_rng(0).bytes(4096), 'text.onnx': b'this is not an onnx model\n',
             'empty.onnx': b'',
             'tensor.onnx': onnx.numpy_helper.from_array(np.zeros(3, np.float32)).SerializeToString()}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    rcnn_checkpoint(folder / 'checkpoint.onnx')  # a PyTorch checkpoint with the wrong name
    return sorted(files) + ['checkpoint.onnx']


@needs_deploy
def test_files_that_are_not_onnx_models_are_refused_by_name(tmp_path):
    for name in _not_onnx_files(tmp_path):
        path = str(tmp_path / name)
        with pytest.raises(UserError, match=f'{path}: not a valid ONNX model'):
            parse_model_spec(path)
        with pytest.raises(UserError, match=name):
            OpenVINORunner(path)
    with pytest.raises(UserError, match='ONNX file not found'):
        parse_model_spec(str(tmp_path / 'gone.onnx'))


@needs_deploy
def test_runtime_options_that_cannot_run_are_refused(exported):
    specs = [parse_model_spec(exported['NAFNet'][1])]
    with pytest.raises(UserError, match='runs float32'):
        check_runtime(specs, None, precision='bf16')
    with pytest.raises(UserError, match='--compile'):
        check_runtime(specs, 'openvino', compile=True)
    with pytest.raises(UserError, match='an ONNX file'):
        check_runtime(specs, 'torch')
    with pytest.raises(UserError, match='runs through a runtime'):
        build_model(specs[0])
