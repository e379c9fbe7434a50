"""A damaged image met mid-run (training worker or validation): one line naming the file, exit 1, run resumable."""
import shutil

import pytest
import torch
from training_utils import make_paired_folders, tiny_options, write_options

from basicsr_nafnet.cli import EXIT_FAILED
from basicsr_nafnet.engine.checkpoint import load_state
from basicsr_nafnet.engine.experiment import latest_state
from basicsr_nafnet.train import main as train_main


def damage(path, keep):
    """Keep the PNG signature and header, drop the rest: listed and sniffed as an image, but it does not decode."""
    shutil.copy(path, keep)
    path.write_bytes(path.read_bytes()[:64])


@pytest.mark.parametrize('where', ['train', 'val'])
def test_damaged_image_mid_run_stops_in_one_line_and_resumes(where, tmp_path, monkeypatch, capsys):
    data = make_paired_folders(str(tmp_path / 'data'))
    # the option checks read the first pair of each set; this one is met only when the run reaches it
    broken = tmp_path / 'data' / where / 'blur' / '001.png'
    damage(broken, tmp_path / 'good.png')
    opt = tiny_options(data, name='broken', total_iter=9, logger__save_checkpoint_freq=1,
                       val__val_freq=2 if where == 'val' else 100, datasets__train__num_worker_per_gpu=1)
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
