"""End-to-end training through BasicSR's pipeline on tiny data: every arch, resume, safety, validation."""
import os
import sys

import pytest
import torch
from basicsr.archs import build_network
from training_utils import make_paired_folders, tiny_options, write_options

from basicsr_nafnet.engine import pipeline
from basicsr_nafnet.engine.options import OptionsError

TINY_NETWORKS = {
    'NAFNet': {'type': 'NAFNet', 'width': 8, 'enc_blk_nums': [1, 1], 'middle_blk_num': 1, 'dec_blk_nums': [1, 1]},
    'NAFNetLocal': {'type': 'NAFNetLocal', 'width': 8, 'enc_blk_nums': [1, 1], 'middle_blk_num': 1,
                    'dec_blk_nums': [1, 1], 'train_size': [1, 3, 24, 24]},
    'Baseline': {'type': 'Baseline', 'width': 8, 'enc_blk_nums': [1], 'middle_blk_num': 1, 'dec_blk_nums': [1]},
    'DeblurUNet': {'type': 'DeblurUNet', 'width': 8, 'enc_blk_nums': [1], 'middle_blk_num': 1, 'dec_blk_nums': [1]},
    'ResidualCNN': {'type': 'ResidualCNN', 'num_feat': 8, 'num_block': 1},
}


@pytest.fixture(scope='module')
def paired(tmp_path_factory):
    return make_paired_folders(str(tmp_path_factory.mktemp('paired')))


def run(kind, opt_path, root, monkeypatch, *args):
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, 'argv', [f'{kind}.py', '-opt', str(opt_path), *args])
    getattr(pipeline, kind)()


def load_params(path):
    return torch.load(path, weights_only=True)['params']


@pytest.mark.parametrize('arch', sorted(TINY_NETWORKS))
def test_each_arch_trains_validates_and_saves(arch, paired, tmp_path, monkeypatch):
    opt = tiny_options(paired, name=f'tiny_{arch}', network=TINY_NETWORKS[arch], total_iter=4,
                       val__tile=16, val__tile_overlap=4)
    run('train', write_options(opt, tmp_path / 'opt.yml'), tmp_path, monkeypatch)
    exp = tmp_path / 'experiments' / f'tiny_{arch}'
    params = load_params(exp / 'models' / 'net_g_latest.pth')
    assert all(torch.isfinite(v).all() for v in params.values())
    assert (exp / 'training_states' / '4.state').is_file()
    assert (exp / 'visualization' / '000' / '000_4.png').is_file()
    assert (exp / 'visualization' / 'comparisons' / '000_4.png').is_file()
    assert not list(exp.rglob('*.tmp'))  # atomic writes leave no temporaries


@pytest.fixture
def deterministic_cuda(monkeypatch):
    """Deterministic kernels for the run's network: without them a GPU run is not repeatable bit for bit."""
    import basicsr.train
    build_model = basicsr.train.build_model

    def build(opt):
        # BasicSR's pipeline turns cuDNN's benchmark mode on, which picks algorithms by timing them
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        return build_model(opt)

    monkeypatch.setattr(basicsr.train, 'build_model', build)
    monkeypatch.setenv('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
              torch.backends.cudnn.deterministic)
    torch.use_deterministic_algorithms(True, warn_only=True)
    yield
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])
    torch.backends.cudnn.deterministic = before[2]


@pytest.mark.parametrize('device', ['cpu', pytest.param('cuda', marks=pytest.mark.cuda)])
def test_resume_reproduces_a_straight_run_exactly(device, paired, tmp_path, monkeypatch, request):
    num_gpu = 0
    if device == 'cuda':
        num_gpu = int(request.getfixturevalue('cuda_device').type == 'cuda')
        request.getfixturevalue('deterministic_cuda')
    # 6 images at batch 2 = 3 iterations per epoch: the interruption at 4 falls inside epoch 1
    straight = tiny_options(paired, name='straight', total_iter=8, logger__save_checkpoint_freq=4, val__val_freq=100,
                            num_gpu=num_gpu)
    os.makedirs(tmp_path / 'a')
    os.makedirs(tmp_path / 'b')
    run('train', write_options(straight, tmp_path / 'straight.yml'), tmp_path / 'a', monkeypatch)
    # the same schedule (T_max 20) stopped at 4, as if killed after its checkpoint at 4
    first = tiny_options(paired, name='resumed', total_iter=4, val__val_freq=100, num_gpu=num_gpu)
    run('train', write_options(first, tmp_path / 'first.yml'), tmp_path / 'b', monkeypatch)
    second = tiny_options(paired, name='resumed', total_iter=8, logger__save_checkpoint_freq=4, val__val_freq=100,
                          num_gpu=num_gpu)
    run('train', write_options(second, tmp_path / 'second.yml'), tmp_path / 'b', monkeypatch, '--auto_resume')

    resumed_dir = tmp_path / 'b' / 'experiments' / 'resumed'
    assert (resumed_dir / 'training_states' / '8.state').is_file()
    a = load_params(tmp_path / 'a' / 'experiments' / 'straight' / 'models' / 'net_g_latest.pth')
    b = load_params(resumed_dir / 'models' / 'net_g_latest.pth')
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # and not trivially: training moved the weights
    c = load_params(resumed_dir / 'models' / 'net_g_4.pth')
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_unsafe_yaml_is_refused(tmp_path, monkeypatch):
    marker = tmp_path / 'pwned'
    bad = tmp_path / 'bad.yml'
    bad.write_text(f"name: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(OptionsError, match='refused to build a Python object'):
        run('train', bad, tmp_path, monkeypatch)
    assert not marker.exists()


def test_missing_paths_are_named(paired, tmp_path, monkeypatch):
    opt = tiny_options(paired)
    opt['datasets']['train']['dataroot_gt'] = str(tmp_path / 'nowhere')
    opt['path']['pretrain_network_g'] = str(tmp_path / 'missing.pth')
    with pytest.raises(OptionsError) as err:
        run('train', write_options(opt, tmp_path / 'opt.yml'), tmp_path, monkeypatch)
    assert 'datasets.train.dataroot_gt' in str(err.value) and 'nowhere' in str(err.value)
    assert 'path.pretrain_network_g' in str(err.value)


def test_force_yml_is_parsed_not_evaluated(paired, tmp_path, monkeypatch):
    opt_path = write_options(tiny_options(paired), tmp_path / 'opt.yml')
    monkeypatch.setattr(sys, 'argv', ['train.py', '-opt', opt_path, '--force_yml', 'train:note=[__import__("os")]',
                                      'logger:print_freq=7', 'train:optim_g:lr=3e-3', 'name=renamed'])
    opt, _ = pipeline.parse_options(str(tmp_path))
    assert opt['train']['note'] == ['__import__("os")']  # a string in a list, never run
    assert opt['logger']['print_freq'] == 7
    assert opt['train']['optim_g']['lr'] == 3e-3  # PyYAML alone would read '3e-3' as a string
    assert opt['name'] == 'renamed'
    # where a number belongs, the same payload is refused by its key before anything is created
    payload = 'train:total_iter=[__import__("os")]'
    monkeypatch.setattr(sys, 'argv', ['train.py', '-opt', opt_path, '--force_yml', payload])
    with pytest.raises(OptionsError, match=r"train.total_iter: expected an integer, got \['__import__"):
        pipeline.parse_options(str(tmp_path))
    assert not (tmp_path / 'experiments').exists()


def test_local_rank_spellings_and_official_keys(paired, tmp_path, monkeypatch):
    opt = tiny_options(paired)
    opt['datasets']['train']['use_flip'] = opt['datasets']['train'].pop('use_hflip')
    opt['val']['metrics']['ssim'] = {'type': 'calculate_ssim', 'crop_border': 0}
    opt['num_gpu'] = 8
    opt_path = write_options(opt, tmp_path / 'opt.yml')
    for flag in ('--local-rank=0', '--local_rank=0'):
        monkeypatch.setattr(sys, 'argv', ['train.py', '-opt', opt_path, flag])
        with pytest.warns(UserWarning) as record:
            parsed, _ = pipeline.parse_options(str(tmp_path))
        messages = ' '.join(str(w.message) for w in record)
        assert 'use_flip' in messages and 'calculate_ssim_3d' in messages
        assert parsed['datasets']['train']['use_hflip'] is True
        assert parsed['val']['metrics']['ssim']['type'] == 'calculate_ssim_3d'
        if not torch.cuda.is_available():
            assert parsed['num_gpu'] == 0


def test_nonfinite_losses_skip_steps_then_stop(paired, tmp_path, monkeypatch):
    from basicsr_nafnet.losses.psnr_loss import PSNRLoss
    monkeypatch.setattr(PSNRLoss, 'forward', lambda self, pred, target, weight=None, **kw: (pred * float('nan')).mean())
    opt = tiny_options(paired, total_iter=10)
    opt['train']['max_nonfinite_steps'] = 3
    opt['logger']['save_checkpoint_freq'] = 1
    with pytest.raises(FloatingPointError, match='3 non-finite losses in a row'):
        run('train', write_options(opt, tmp_path / 'opt.yml'), tmp_path, monkeypatch)


@pytest.mark.parametrize('how', ['script', 'module'])
def test_entry_points_write_under_the_current_directory(how, paired, tmp_path):
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    opt_path = write_options(tiny_options(paired, name=f'entry_{how}', total_iter=2), tmp_path / 'opt.yml')
    launcher = [os.path.join(root, 'basicsr_nafnet', 'train.py')] if how == 'script' else ['-m', 'basicsr_nafnet.train']
    done = subprocess.run([sys.executable, *launcher, '-opt', opt_path], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / 'experiments' / f'entry_{how}' / 'models' / 'net_g_latest.pth').is_file()
    assert not os.path.exists(os.path.join(root, 'basicsr_nafnet', 'experiments'))


def test_ema_autocast_and_drop_last_iteration_count(tmp_path, monkeypatch):
    # 7 images at batch 2 make 3 batches per epoch (drop_last); BasicSR's estimate of 4 would stop at 6 of 8
    data = make_paired_folders(str(tmp_path / 'data'), n_train=7, n_val=1)
    opt = tiny_options(data, name='ema', total_iter=8, val__val_freq=100, logger__save_checkpoint_freq=8)
    opt['train']['ema_decay'] = 0.9
    opt['train']['autocast'] = 'bf16'
    run('train', write_options(opt, tmp_path / 'opt.yml'), tmp_path, monkeypatch)
    exp = tmp_path / 'experiments' / 'ema'
    assert (exp / 'training_states' / '8.state').is_file()
    saved = torch.load(exp / 'models' / 'net_g_8.pth', weights_only=True)
    assert set(saved) == {'params', 'params_ema'}
    assert any(not torch.equal(saved['params'][k], saved['params_ema'][k]) for k in saved['params'])


def test_channels_last_training_matches_nchw(paired, tmp_path, monkeypatch):
    saved = {}
    for layout in ('nchw', 'channels_last'):
        opt = tiny_options(paired, name=layout, total_iter=4, val__val_freq=100, logger__save_checkpoint_freq=4)
        opt['train']['channels_last'] = layout == 'channels_last'
        run('train', write_options(opt, tmp_path / f'{layout}.yml'), tmp_path, monkeypatch)
        saved[layout] = load_params(tmp_path / 'experiments' / layout / 'models' / 'net_g_4.pth')
    intro = saved['channels_last']['intro.weight']  # 3x3 conv: the two layouts have different strides
    assert intro.is_contiguous(memory_format=torch.channels_last) and not intro.is_contiguous()
    assert saved['nchw']['intro.weight'].is_contiguous()
    for key, value in saved['nchw'].items():  # same training up to float rounding
        assert torch.allclose(value, saved['channels_last'][key], atol=1e-5), key


def test_warmup_cosine_schedule_values():
    from basicsr_nafnet.models.lr_scheduler import WarmupCosineLR
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = WarmupCosineLR(optimizer, T_max=12, eta_min=0.1, warmup_iter=2)
    lrs = []
    for _ in range(14):
        lrs.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        scheduler.step()
    assert lrs[0] == pytest.approx(0.5) and lrs[1] == pytest.approx(1.0)  # linear warm-up
    assert lrs[7] == pytest.approx(0.1 + 0.9 * 0.5)  # half-way through the cosine (5 of 10 steps)
    assert lrs[12] == pytest.approx(0.1) and lrs[13] == pytest.approx(0.1)  # eta_min from T_max on


def _train_section(scheduler, autocast=None):
    return {'total_iter': 10, 'optim_g': {'type': 'AdamW', 'lr': 1e-3}, 'scheduler': scheduler,
            'pixel_opt': {'type': 'PSNRLoss'}, 'autocast': autocast}


def _train_problems(train):
    from basicsr_nafnet.engine.checks.training import check_train
    from basicsr_nafnet.engine.checks.values import Problems
    problems = Problems()
    check_train(problems, {'model_type': 'ImageRestorationModel', 'train': train})
    return problems


@pytest.mark.parametrize('scheduler', [{'type': 'TrueCosineAnnealingLR', 'T_max': 10, 'eta_min': 1e-7},
                                       {'type': 'MultiStepLR', 'milestones': [5], 'gamma': 0.5},
                                       {'type': 'CosineAnnealingRestartLR', 'periods': [10], 'eta_min': 1e-7}])
def test_model_builds_every_scheduler_the_option_checks_accept(scheduler):
    from types import SimpleNamespace

    from basicsr_nafnet.models.image_restoration_model import ImageRestorationModel
    from basicsr_nafnet.models.rules import SCHEDULERS
    train = _train_section(dict(scheduler))
    assert _train_problems(train) == []
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    model = SimpleNamespace(opt={'train': train}, optimizers=[optimizer])
    ImageRestorationModel.setup_schedulers(model)  # the model's own method on a stand-in: no network needed
    assert [type(s) for s in model.schedulers] == [SCHEDULERS[scheduler['type']]]
    assert train['scheduler'] == scheduler  # the options are read, not changed


def test_model_and_option_checks_refuse_the_same_scheduler_and_autocast():
    from types import SimpleNamespace

    from basicsr_nafnet.models.image_restoration_model import ImageRestorationModel
    from basicsr_nafnet.models.rules import SCHEDULERS, autocast_dtype
    train = _train_section({'type': 'StepLR', 'step_size': 2}, autocast='int8')
    assert _train_problems(train) == ["train.autocast: expected null, bf16 or fp16, got 'int8'",
                                      f"train.scheduler.type: 'StepLR' is not one of {', '.join(SCHEDULERS)}"]
    model = SimpleNamespace(opt={'train': train}, optimizers=[])
    with pytest.raises(ValueError, match="train.scheduler.type: 'StepLR' is not one of TrueCosineAnnealingLR"):
        ImageRestorationModel.setup_schedulers(model)
    with pytest.raises(ValueError, match="train.autocast: 'int8' is not one of null, bf16, fp16"):
        autocast_dtype('int8')
    assert autocast_dtype(None) is None and autocast_dtype('bf16') is torch.bfloat16


def test_saved_states_load_with_weights_only(tmp_path):
    import numpy as np

    from basicsr_nafnet.engine.checkpoint import load_state
    from basicsr_nafnet.fileio import atomic_save
    path = tmp_path / 'x.state'
    atomic_save({'iter': np.int64(3), 'psnr': np.float64(30.5), 'nested': [np.float32(1.5)]}, str(path))
    state = load_state(str(path))
    assert state == {'iter': 3, 'psnr': 30.5, 'nested': [1.5]}
    assert type(state['psnr']) is float and not list(tmp_path.glob('*.tmp'))


class StandInCompiled(torch.nn.Module):
    """What ``torch.compile(module)`` returns, minus the compiling: a wrapper whose state dict says ``_orig_mod.``."""

    calls = 0

    def __init__(self, module):
        super().__init__()
        self._orig_mod = module

    def forward(self, *args, **kwargs):
        StandInCompiled.calls += 1
        return self._orig_mod(*args, **kwargs)


def test_compiled_training_saves_plain_keys_and_trains_as_eager(paired, tmp_path, monkeypatch):
    monkeypatch.setattr(torch, 'compile', StandInCompiled)
    StandInCompiled.calls = 0
    saved = {}
    for name, compiled in (('eager', False), ('compiled', True)):
        opt = tiny_options(paired, name=name, total_iter=3, val__val_freq=100, logger__save_checkpoint_freq=3,
                           val__tile=16)
        opt['train'].update(compile=compiled, channels_last=True, autocast='bf16', ema_decay=0.5)
        run('train', write_options(opt, tmp_path / f'{name}.yml'), tmp_path, monkeypatch)
        saved[name] = torch.load(tmp_path / 'experiments' / name / 'models' / 'net_g_3.pth', weights_only=True)
    assert StandInCompiled.calls == 3  # the three training forwards; validation and EMA use the plain network
    plain_keys = set(build_network(tiny_options(paired)['network_g']).state_dict())
    for key in ('params', 'params_ema'):
        assert set(saved['compiled'][key]) == plain_keys
        for name, value in saved['eager'][key].items():
            assert torch.equal(value, saved['compiled'][key][name]), name


def test_compile_failure_trains_on_uncompiled(paired, tmp_path, monkeypatch):
    def broken(module):
        def fail(x):
            raise RuntimeError('no C++ compiler')
        return fail

    monkeypatch.setattr(torch, 'compile', broken)
    opt = tiny_options(paired, name='nocompiler', total_iter=2, val__val_freq=100)
    opt['train']['compile'] = True
    with pytest.warns(UserWarning, match=r'train.compile: torch.compile failed \(RuntimeError: no C\+\+ compiler\)'):
        run('train', write_options(opt, tmp_path / 'opt.yml'), tmp_path, monkeypatch)
    assert (tmp_path / 'experiments' / 'nocompiler' / 'models' / 'net_g_latest.pth').is_file()
