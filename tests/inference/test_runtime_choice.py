"""``--runtime auto``: size classes, the choice rule (fastest beyond the noise, else PyTorch), the remembered choice,
short jobs left on PyTorch, and the real runtimes chosen among on a tiny network."""
import json
import time

import pytest
import torch

from basicsr_nafnet.data.download import CACHE_ENV
from basicsr_nafnet.errors import UserError
from basicsr_nafnet.inference import open_model, parse_model_spec
from basicsr_nafnet.inference import runtime_choice
from basicsr_nafnet.inference.runtime_choice import NOISE, Workload, choices_path, choose_runtime, size_class
from tiny_models import TINY_SPEC, tiny_checkpoint


@pytest.mark.parametrize('hw, label', [((100, 100), '256'), ((256, 256), '256'), ((257, 256), '512'),
                                       ((720, 1280), '720p'), ((1280, 720), '720p'), ((1080, 1920), '1080p'),
                                       ((2000, 3000), '2000x3000')])
def test_size_class_is_the_smallest_holding_the_pixels(hw, label):
    assert size_class(*hw)[0] == label


def test_workload_of_tiled_images_counts_tiles():
    # 300x500 in 256-tiles: ceil(300/256)=2 rows x ceil(500/256)=2 columns; 100x100 is one tile of 100x100
    work = Workload.of_images([(300, 500), (100, 100)], tile=256)
    assert (work.height, work.width, work.count) == (256, 256, 5)
    whole = Workload.of_images([(300, 500), (100, 100)])
    assert (whole.height, whole.width, whole.count) == (300, 500, 2)
    assert Workload.of_images([]) is None


class _Sleeper:
    """A runner that takes ``seconds`` per call."""

    def __init__(self, seconds):
        self.seconds, self.calls = seconds, 0

    def __call__(self, x):
        self.calls += 1
        time.sleep(self.seconds)
        return x


@pytest.fixture
def fake_runtimes(monkeypatch, tmp_path):
    monkeypatch.setattr(runtime_choice, 'installed_runtimes', lambda: ['onnxruntime', 'openvino'])
    return str(tmp_path / 'choices.json')


def _choose(path, times, workload=Workload(64, 64, 10), min_job_seconds=0, fail=()):
    runners = {}

    def runner_for(name):
        if (name or 'torch') in fail:
            raise UserError(f'{name}: cannot export here')
        runners[name or 'torch'] = _Sleeper(times[name or 'torch'])
        return runners[name or 'torch']

    lines = []
    spec = parse_model_spec(TINY_SPEC)
    chosen = choose_runtime(spec, None, workload, runner_for, log=lines.append, path=path,
                            min_job_seconds=min_job_seconds)
    return chosen, runners, lines


def test_fastest_runtime_beyond_the_noise_is_chosen_and_remembered(fake_runtimes):
    (chosen, runner), runners, lines = _choose(fake_runtimes, dict(torch=0.03, onnxruntime=0.01, openvino=0.02))
    assert chosen == 'onnxruntime' and runner is runners['onnxruntime']
    record, = json.load(open(fake_runtimes)).values()
    assert record['runtime'] == 'onnxruntime' and set(record['seconds']) == {'torch', 'onnxruntime', 'openvino'}
    assert record['seconds']['onnxruntime'] < record['seconds']['torch']
    assert 'onnxruntime at 256' in lines[-1]
    # the second job of the same size class measures nothing: the runners are not even made
    (again, runner), runners, lines = _choose(fake_runtimes, dict(torch=0.03, onnxruntime=0.01, openvino=0.02))
    assert again == 'onnxruntime' and runner is None and runners == {} and 'remembered' in lines[-1]


def test_a_runtime_within_the_noise_leaves_pytorch(fake_runtimes):
    # onnxruntime 2 % faster than torch: inside NOISE (5 %), so the default stays
    assert NOISE > 0.02
    (chosen, _), _, _ = _choose(fake_runtimes, dict(torch=0.050, onnxruntime=0.049, openvino=0.2))
    assert chosen is None
    record, = json.load(open(fake_runtimes)).values()
    assert record['runtime'] == 'torch'


def test_short_job_stays_on_pytorch_without_measuring(fake_runtimes):
    (chosen, runner), runners, lines = _choose(fake_runtimes, dict(torch=0.01, onnxruntime=0.001, openvino=0.001),
                                               workload=Workload(64, 64, 3), min_job_seconds=20)
    assert chosen is None and set(runners) == {'torch'} and runner is runners['torch']
    assert 'about 0 s' in lines[-1]
    with pytest.raises(FileNotFoundError):
        open(fake_runtimes)


def test_candidate_that_cannot_be_made_is_left_out(fake_runtimes):
    (chosen, _), runners, lines = _choose(fake_runtimes, dict(torch=0.03, onnxruntime=0.01, openvino=0.02),
                                          fail=('onnxruntime', ))
    assert chosen == 'openvino' and 'onnxruntime' not in runners
    assert any('onnxruntime left out' in line for line in lines)


def test_damaged_choices_file_is_measured_again(fake_runtimes):
    with open(fake_runtimes, 'w') as f:
        f.write('{not json')
    (chosen, _), _, _ = _choose(fake_runtimes, dict(torch=0.03, onnxruntime=0.04, openvino=0.01))
    assert chosen == 'openvino'
    assert len(json.load(open(fake_runtimes))) == 1


def test_auto_chooses_among_the_real_runtimes_and_runs_exactly(tmp_path, monkeypatch):
    pytest.importorskip('onnxruntime')
    pytest.importorskip('openvino')
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / 'cache'))
    monkeypatch.setattr(runtime_choice, 'MIN_JOB_SECONDS', 0.0)
    ckpt = tmp_path / 'tiny.pth'
    net = tiny_checkpoint(ckpt)
    lines = []
    model = open_model(f'{TINY_SPEC}@{ckpt}', 'cpu', 'auto', log=lines.append, workload=Workload(64, 64, 4))
    record, = json.load(open(choices_path())).values()
    assert set(record['seconds']) == {'torch', 'onnxruntime', 'openvino'}
    best = min(record['seconds'], key=record['seconds'].get)
    expected = best if record['seconds'][best] <= (1 - NOISE) * record['seconds']['torch'] else 'torch'
    assert (model.runtime or 'torch') == expected == record['runtime']
    x = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        torch.testing.assert_close(model.runner(x), net(x), atol=1e-4, rtol=0)
    assert any('runtime auto:' in line for line in lines)


def test_auto_is_pytorch_off_the_float32_cpu_path(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / 'cache'))
    monkeypatch.setattr(runtime_choice, 'MIN_JOB_SECONDS', 0.0)
    ckpt = tmp_path / 'tiny.pth'
    tiny_checkpoint(ckpt)
    model = open_model(f'{TINY_SPEC}@{ckpt}', 'cpu', 'auto', precision='bf16', workload=Workload(64, 64, 4))
    assert model.runtime is None
    assert not (tmp_path / 'cache').exists()


def test_auto_hashes_the_weights_once_and_exports_an_untrained_net_once(tmp_path, monkeypatch):
    pytest.importorskip('onnxruntime')
    pytest.importorskip('openvino')
    import basicsr_nafnet.inference.open as open_module

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / 'cache'))
    monkeypatch.setattr(runtime_choice, 'MIN_JOB_SECONDS', 0.0)
    counted = {'check': 0, 'export': 0}
    check, export = open_module.check_export_cache, open_module.export_cached

    def counting_check(*args, **kwargs):
        counted['check'] += 1
        return check(*args, **kwargs)

    def counting_export(spec, net, path, runtime, log=None):
        import os
        counted['export'] += not os.path.isfile(path)
        return export(spec, net, path, runtime, log)

    monkeypatch.setattr(open_module, 'check_export_cache', counting_check)
    monkeypatch.setattr(open_module, 'export_cached', counting_export)
    ckpt = tmp_path / 'tiny.pth'
    tiny_checkpoint(ckpt)
    open_model(f'{TINY_SPEC}@{ckpt}', 'cpu', 'auto', workload=Workload(32, 32, 2))
    assert counted == {'check': 1, 'export': 1}  # one hash, one file for both runtimes
    counted.update(check=0, export=0)
    # untrained, another size class (the choice above is remembered for the arch, whatever its weights)
    open_model(TINY_SPEC, 'cpu', 'auto', workload=Workload(300, 300, 2))
    assert counted['export'] == 1
