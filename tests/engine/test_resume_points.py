"""Resuming from any saved training state ends exactly where a straight run ends: end of an epoch and mid-epoch.

One straight run saves a state after every iteration; each case copies its folder as a kill after iteration
``k`` would leave it (later states and weights gone, a half-written save's hidden temporary left behind) and
resumes it with ``--auto_resume``.
"""
import shutil
import sys

import pytest
import torch
from training_utils import make_paired_folders, tiny_options, write_options

from basicsr_nafnet.engine import pipeline

TOTAL = 9  # 6 pairs at batch 2: 3 iterations per epoch, epochs end at 3, 6 and 9


def assert_same(a, b, where=''):
    """Every tensor equal bit for bit, every other value equal, through nested dicts and lists."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f'{where}.{key}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f'{where}[{i}]')
    elif torch.is_tensor(a):
        assert torch.equal(a, b), where
    else:
        assert a == b, where


def train(opt_path, root, monkeypatch, *args):
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, 'argv', ['train.py', '-opt', str(opt_path), *args])
    pipeline.train()


def load(path):
    return torch.load(path, weights_only=True)


@pytest.fixture(scope='module')
def straight(tmp_path_factory):
    """A run of TOTAL iterations that saves weights and a state after each."""
    root = tmp_path_factory.mktemp('straight')
    data = make_paired_folders(str(root / 'data'))
    opt = tiny_options(data, name='run', total_iter=TOTAL, logger__save_checkpoint_freq=1, val__val_freq=100)
    opt_path = write_options(opt, root / 'opt.yml')
    with pytest.MonkeyPatch.context() as mp:
        train(opt_path, root, mp)
    return root, opt_path


@pytest.mark.parametrize('stop', [3, 4, 6], ids=['end-of-epoch-0', 'mid-epoch-1', 'end-of-epoch-1'])
def test_resume_from_any_state_is_bit_identical(stop, straight, tmp_path, monkeypatch):
    root, opt_path = straight
    run = tmp_path / 'experiments' / 'run'
    shutil.copytree(root / 'experiments' / 'run', run)
    for it in range(stop + 1, TOTAL + 1):  # what a kill right after saving `stop` leaves
        (run / 'training_states' / f'{it}.state').unlink()
        (run / 'models' / f'net_g_{it}.pth').unlink()
    (run / 'models' / 'net_g_latest.pth').unlink()
    # a kill in the middle of the next save leaves atomic_open's hidden temporaries; the next run removes them
    leftovers = [run / 'models' / f'.net_g_{stop + 1}.pth.4242-0123abcd.tmp',
                 run / 'training_states' / f'.{stop + 1}.state.4242-89abcdef.tmp']
    for path in leftovers:
        path.write_bytes(b'PK\x03\x04 half a zip')
    not_ours = run / 'models' / 'notes.tmp'
    not_ours.write_text('a user file that only looks temporary')

    train(opt_path, tmp_path, monkeypatch, '--auto_resume')

    resumed_logs = [p.read_text() for p in run.glob('train_run_*.log')]
    epoch = stop // 3  # the epoch after the last complete one
    assert any(f'Resuming training from epoch: {epoch}, iter: {stop}.' in text for text in resumed_logs)
    assert_same(load(root / 'experiments' / 'run' / 'models' / 'net_g_latest.pth'),
                load(run / 'models' / 'net_g_latest.pth'), 'net_g_latest')
    straight_state = load(root / 'experiments' / 'run' / 'training_states' / f'{TOTAL}.state')
    resumed_state = load(run / 'training_states' / f'{TOTAL}.state')
    for key in ('epoch', 'iter', 'optimizers', 'schedulers'):
        assert_same(straight_state[key], resumed_state[key], key)
    # and not trivially: the weights moved after the resume point
    before = load(root / 'experiments' / 'run' / 'models' / f'net_g_{stop}.pth')['params']
    after = load(run / 'models' / 'net_g_latest.pth')['params']
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert not any(path.exists() for path in leftovers)
    assert not_ours.exists()
