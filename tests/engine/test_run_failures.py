"""A damaged image met mid-run (training worker or validation): one line naming the file, exit 1, run resumable."""
import shutil

import pytest
import torch
from training_utils import make_paired_folders, tiny_options, tiny_test_options, write_options

from basicsr_nafnet.cli import EXIT_FAILED
from basicsr_nafnet.engine.checkpoint import load_state
from basicsr_nafnet.engine.experiment import latest_state
from basicsr_nafnet.train import main as train_main


def damage(path, keep):
    """Keep the PNG signature and header, drop the rest: listed and sniffed as an image, but it does not decode."""
    shutil.copy(path, keep)
    path.write_bytes(path.read_bytes()[:64])


@pytest.mark.parametrize('where, prefetch_mode', [('train', None), ('val', None), ('train', 'cpu')])
def test_damaged_image_mid_run_stops_in_one_line_and_resumes(where, prefetch_mode, tmp_path, monkeypatch, capsys):
    # prefetch_mode cpu: the batches are read in a thread (engine/prefetch.py), whose failure must reach the loop
    data = make_paired_folders(str(tmp_path / 'data'))
    # the option checks read the first pair of each set; this one is met only when the run reaches it
    broken = tmp_path / 'data' / where / 'blur' / '001.png'
    damage(broken, tmp_path / 'good.png')
    opt = tiny_options(data, name='broken', total_iter=9, logger__save_checkpoint_freq=1,
                       val__val_freq=2 if where == 'val' else 100, datasets__train__num_worker_per_gpu=1,
                       datasets__train__prefetch_mode=prefetch_mode)
    opt_path = write_options(opt, tmp_path / 'opt.yml')
    monkeypatch.chdir(tmp_path)

    assert train_main(['-opt', opt_path]) == EXIT_FAILED
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert 'Traceback' not in err
    assert last.startswith(f'error: training stopped: datasets.{where}: {broken} cannot be decoded'), last
    states = tmp_path / 'experiments' / 'broken' / 'training_states'
    state = latest_state(str(states))
    assert state is not None and f'continue with --auto_resume (from {state[len(str(tmp_path)) + 1:]}' in last
    if where == 'val':
        assert state.endswith('/2.state')  # saved before the validation that failed
    assert set(load_state(state)) >= {'iter', 'optimizers', 'schedulers'}  # complete, loads with weights_only
    assert not (tmp_path / 'experiments' / '.broken.lock').exists()  # released on the way out

    shutil.copy(tmp_path / 'good.png', broken)
    assert train_main(['-opt', opt_path, '--auto_resume']) == 0
    assert (states / '9.state').is_file()
    params = torch.load(tmp_path / 'experiments' / 'broken' / 'models' / 'net_g_latest.pth', weights_only=True)
    assert all(torch.isfinite(v).all() for v in params['params'].values())
    assert not list((tmp_path / 'experiments').glob('broken_archived_*'))  # resumed, not started over


def test_files_that_cannot_be_images_are_named_before_anything_is_created(tmp_path, monkeypatch, capsys):
    data = make_paired_folders(str(tmp_path / 'data'))
    (tmp_path / 'data' / 'train' / 'blur' / '003.png').write_bytes(b'')
    (tmp_path / 'data' / 'val' / 'sharp' / '001.png').write_text('<html>not found</html>')
    opt_path = write_options(tiny_options(data, name='bad_files'), tmp_path / 'opt.yml')
    run_dir = tmp_path / 'run'
    run_dir.mkdir()
    monkeypatch.chdir(run_dir)

    assert train_main(['-opt', opt_path]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('error: '), err
    assert f'datasets.train: {data}/train/blur/003.png is empty' in err
    assert f'datasets.val: {data}/val/sharp/001.png is not an image' in err
    assert list(run_dir.iterdir()) == []  # no experiments/, no tb_logger/


# ---------------------------------------------------------------------------- parts that fail only once running


@pytest.fixture(autouse=True)
def fresh_logger():
    """BasicSR's logger keeps the stream of the test that configured it; a later test's capture would see its
    'Logging error' tracebacks."""
    from basicsr_nafnet.engine.pipeline import _fresh_logger

    _fresh_logger()
    yield
    _fresh_logger()


def _last_error_line(capsys):
    err = capsys.readouterr().err
    assert 'Traceback' not in err, err[-3000:]
    return err.strip().splitlines()[-1]


def _resume_completes(opt_path, tmp_path, name, total_iter):
    assert train_main(['-opt', opt_path, '--auto_resume']) == 0
    assert (tmp_path / 'experiments' / name / 'training_states' / f'{total_iter}.state').is_file()
    assert not list((tmp_path / 'experiments').glob(f'{name}_archived_*'))  # resumed, not started over


def test_metric_failing_in_validation_stops_in_one_line_and_resumes(tmp_path, monkeypatch, capsys):
    import basicsr_nafnet.models.image_restoration_model as model_module

    data = make_paired_folders(str(tmp_path / 'data'))
    opt = tiny_options(data, name='metric', total_iter=6, logger__save_checkpoint_freq=2, val__val_freq=4)
    opt_path = write_options(opt, tmp_path / 'opt.yml')
    monkeypatch.chdir(tmp_path)

    def shapes_differ(data, metric_opt):  # what BasicSR's metrics raise on images of two sizes
        raise ValueError('Image shapes are different: (40, 48, 3), (40, 46, 3).')

    with monkeypatch.context() as patch:
        patch.setattr(model_module, 'calculate_metric', shapes_differ)
        assert train_main(['-opt', opt_path]) == EXIT_FAILED
    last = _last_error_line(capsys)
    assert last.startswith('error: training stopped: val.metrics.psnr (calculate_psnr) on 000 failed (ValueError: '
                           'Image shapes are different'), last
    assert 'fix or remove val.metrics.psnr; then continue with --auto_resume (from ' \
           'experiments/metric/training_states/4.state' in last, last  # saved right before that validation
    assert not (tmp_path / 'experiments' / '.metric.lock').exists()
    _resume_completes(opt_path, tmp_path, 'metric', 6)


class _FailingWriter:
    """A TensorBoard writer that starts, then cannot write (a full disk)."""

    def __init__(self, log_dir):
        self.calls = 0

    def add_scalar(self, *args, **kwargs):
        self.calls += 1
        if self.calls > 2:
            raise OSError(28, 'No space left on device')

    def close(self):
        pass


@pytest.mark.parametrize('failure', ['write', 'start_tb', 'start_wandb'])
def test_logger_backend_failing_mid_run_stops_in_one_line_and_resumes(failure, tmp_path, monkeypatch, capsys):
    import sys
    import types

    from basicsr.utils import logger as basicsr_logger

    data = make_paired_folders(str(tmp_path / 'data'))
    overrides = dict(logger__use_tb_logger=True, logger__print_freq=1, logger__save_checkpoint_freq=2)
    if failure == 'start_wandb':
        overrides['logger__wandb'] = {'project': 'deblur', 'resume_id': None}
    opt_path = write_options(tiny_options(data, name='logged', total_iter=4, **overrides), tmp_path / 'opt.yml')
    monkeypatch.chdir(tmp_path)

    def no_login(opt):
        raise RuntimeError('api_key not configured (no-tty). call wandb.login(key=[your_api_key])')

    def cannot_start(log_dir):
        raise PermissionError(13, 'Permission denied', log_dir)

    with monkeypatch.context() as patch:
        patch.setattr(basicsr_logger, 'init_tb_logger', cannot_start if failure == 'start_tb' else _FailingWriter)
        patch.setattr(basicsr_logger, 'init_wandb_logger', no_login)
        patch.setitem(sys.modules, 'wandb', types.ModuleType('wandb'))  # the option check asks that it is installed
        patch.setattr(sys.modules['wandb'], '__spec__', types.SimpleNamespace(name='wandb'), raising=False)
        assert train_main(['-opt', opt_path]) == EXIT_FAILED
    last = _last_error_line(capsys)
    expected = {
        'write': 'error: training stopped: logger.use_tb_logger (TensorBoard): add_scalar failed (OSError: [Errno 28] '
                 'No space left on device); set logger.use_tb_logger: false',
        'start_tb': 'error: training stopped: logger.use_tb_logger (TensorBoard): starting the writer in '
                    f'{tmp_path}/tb_logger/logged failed (PermissionError',
        'start_wandb': "error: training stopped: logger.wandb (wandb): starting run 'logged' of project 'deblur' "
                       'failed (RuntimeError: api_key not configured',
    }[failure]
    assert last.startswith(expected), last
    assert not (tmp_path / 'experiments' / '.logged.lock').exists()
    if failure == 'write':  # the third scalar: iteration 2 logged, its state saved after the log line
        assert 'continue with --auto_resume (from experiments/logged/training_states/' in last, last
    else:
        assert 'run the same command again (no training state was saved yet)' in last, last
    if failure == 'write':  # fixed (here: the disk has room again), the run goes on from its state
        _resume_completes(opt_path, tmp_path, 'logged', 4)
    elif failure == 'start_tb':  # fixed, the same command starts the run again
        assert train_main(['-opt', opt_path]) == 0


def test_dataloader_worker_killed_stops_in_one_line(tmp_path, monkeypatch, capsys):
    import os
    import signal

    from torch.utils.data import get_worker_info

    from basicsr_nafnet.engine import sampling

    data = make_paired_folders(str(tmp_path / 'data'))
    opt = tiny_options(data, name='oom', total_iter=6, logger__save_checkpoint_freq=2,
                       datasets__train__num_worker_per_gpu=1)
    opt_path = write_options(opt, tmp_path / 'opt.yml')
    monkeypatch.chdir(tmp_path)
    calls = []
    original = sampling.SeededDataset.__getitem__
    saved = tmp_path / 'experiments' / 'oom' / 'training_states' / '2.state'

    def killed_in_worker(self, index):  # once a state is saved, a worker is killed as the kernel's OOM killer does
        calls.append(index)
        if get_worker_info() is not None and saved.exists() and len(calls) > 1:  # counted per worker process
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, index)

    monkeypatch.setattr(sampling.SeededDataset, '__getitem__', killed_in_worker)
    assert train_main(['-opt', opt_path]) == EXIT_FAILED
    last = _last_error_line(capsys)
    assert last.startswith('error: training stopped: datasets.train: a DataLoader worker process died (DataLoader '
                           'worker (pid'), last
    assert 'lower datasets.train.num_worker_per_gpu or batch_size_per_gpu, then continue with --auto_resume (from ' \
        'experiments/oom/training_states/' in last, last
    assert not (tmp_path / 'experiments' / '.oom.lock').exists()
    monkeypatch.setattr(sampling.SeededDataset, '__getitem__', original)  # memory enough again
    _resume_completes(opt_path, tmp_path, 'oom', 6)


@pytest.mark.parametrize('failure', ['damaged_image', 'metric'])
def test_test_run_failing_mid_run_stops_in_one_line(failure, tmp_path, monkeypatch, capsys):
    import basicsr_nafnet.models.image_restoration_model as model_module
    from tiny_models import tiny_checkpoint

    from basicsr_nafnet.test import main as test_main

    data = make_paired_folders(str(tmp_path / 'data'))
    tiny_checkpoint(tmp_path / 'tiny.pth')
    opt = tiny_test_options(data, 'tested', tmp_path / 'tiny.pth')
    opt_path = write_options(opt, tmp_path / 'test.yml')
    monkeypatch.chdir(tmp_path)
    broken = tmp_path / 'data' / 'val' / 'blur' / '001.png'
    if failure == 'damaged_image':
        damage(broken, tmp_path / 'good.png')  # the second pair: the option check reads the first only
    else:
        monkeypatch.setattr(model_module, 'calculate_metric', lambda data, opt: 1 / 0)
    assert test_main(['-opt', opt_path]) == EXIT_FAILED
    last = _last_error_line(capsys)
    if failure == 'damaged_image':
        assert last.startswith(f'error: testing stopped: datasets.test (tiny): {broken} cannot be decoded'), last
        assert (tmp_path / 'results' / 'tested' / 'visualization' / 'tiny' / '000_tested.png').is_file()
    else:
        assert last.startswith('error: testing stopped: val.metrics.psnr (calculate_psnr) on 000 failed '
                               '(ZeroDivisionError: division by zero); fix or remove val.metrics.psnr'), last
    assert last.endswith('then run the same command again (the result images written so far are complete)'), last
    assert not (tmp_path / 'results' / '.tested.lock').exists()
