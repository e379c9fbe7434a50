"""Bad input through a fresh interpreter, as a user types it, and Ctrl-C during a conversion and during training.

The in-process cases are in the family modules (test_bad_input_<family>.py); the world: conftest.py.
"""
import os
import signal
import subprocess
import time

import pytest
import torch
from bad_input_harness import COMMAND_FILES, PYTHON, ROOT, SCRIPTS, snapshot
from tiny_models import TINY_SPEC
from training_utils import make_paired_folders, tiny_options, write_options

from basicsr_nafnet.data.synthetic import make_synthetic_gopro

# one case per command through a fresh interpreter, as a user types it: the entry point's own exit path
REAL_CASES = [
    ('deblur', ['-i', 'imgs', '-o', 'out', '--model', 'NAFNet@text.pth'], 'text.pth'),
    ('prepare_gopro', ['--input', 'small', '--crop-size', '32', '--no-progress'], 'smaller than the crop size'),
    ('make_synthetic_gopro', ['--output', 'realdata', '--overwrite', '--train', '1', '--test', '1'], 'realdata'),
    ('leaderboard', ['--data', 'data/val', '--model', 'NoSuchArch@tiny.pth'], 'NoSuchArch'),
    ('compare', ['--data', 'data/val', '--model', f'{TINY_SPEC}@tiny.pth', '--key', 'nope', '--out', 'figs'], 'nope'),
    ('plot_curves', ['experiments/tiny', '--out', 'plots/'], '--out'),
    ('gpu_check', ['out', '--device', 'cpu'], 'needs CUDA'),
    ('export', ['--model', f'{TINY_SPEC}@tiny.pth', '--out', 'net.pt'], '--out'),
    ('train', ['-opt', 'ok.yml', '--force_yml', 'train:total_iter=abc'], 'train.total_iter'),
    ('test', ['-opt', 'ok_test.yml', '--force_yml', 'path:pretrain_network_g=text.pth'], 'text.pth'),
]


@pytest.mark.parametrize('command,argv,text', REAL_CASES, ids=[c[0] for c in REAL_CASES])
def test_real_entry_points_print_one_line(command, argv, text, world):
    before = snapshot(world['top'])
    proc = subprocess.run([PYTHON, os.path.join(ROOT, COMMAND_FILES[command]), *argv], cwd=world['root'],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert 'Traceback' not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if 'error' in line]
    assert len(errors) == 1 and text in errors[0], proc.stderr
    assert snapshot(world['top']) == before


# ------------------------------------------------------------------------------------------------ Ctrl-C


def _start_interruptible(argv, cwd):
    """Start a command in its own process group, with Ctrl-C at its default even where this suite ignores it.

    A suite started in the background of a non-interactive shell (``cmd &``) inherits SIGINT ignored, and
    Python then installs no KeyboardInterrupt handler in its children: the command would never see Ctrl-C.
    """
    return subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _interrupt_when(proc, ready, settle=0.0, timeout=120):
    """Send Ctrl-C (SIGINT to the process group, as a terminal does) ``settle`` seconds after ``ready()``."""
    try:
        deadline = time.time() + timeout
        while not ready():
            assert proc.poll() is None, proc.communicate()
            assert time.time() < deadline, 'never got ready'
            time.sleep(0.05)
        # Python drops a KeyboardInterrupt raised inside its own at-fork handlers (logging's lock release), so
        # a Ctrl-C landing exactly while the worker pool forks is lost: wait until the pool is working
        time.sleep(settle)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        return proc.returncode, err
    finally:
        if proc.poll() is None:  # a failed test leaves no command running (it would slow the rest of the suite)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_ctrl_c_while_converting_keeps_finished_splits_and_leaves_no_partial(tmp_path):
    make_synthetic_gopro(str(tmp_path / 'big'), train=60, test=1, size=(128, 128), progress=False)
    proc = _start_interruptible([PYTHON, os.path.join(ROOT, 'scripts', 'prepare_gopro.py'), '--input', 'big',
                                 '--splits', 'test', 'train', '--crop-size', '16', '--step', '4', '--workers', '1',
                                 '--no-progress'], tmp_path)
    status, err = _interrupt_when(proc, lambda: (tmp_path / 'big' / 'train' / '.blur_crops.lmdb.partial').exists(),
                                  settle=0.5)
    assert status == 130, err
    assert 'Traceback' not in err
    assert [line for line in err.splitlines() if line.strip()][-1].startswith('interrupted: ')
    left = sorted(os.listdir(tmp_path / 'big' / 'train'))
    assert not [f for f in left if f.endswith(('.lmdb', '.partial'))], left  # the split in progress is gone
    assert sorted(os.listdir(tmp_path / 'big' / 'test')) == ['SYNTH_test_000', 'input.lmdb', 'target.lmdb']
    # the same command again says how to finish the rest
    assert SCRIPTS['prepare_gopro'].main(['--input', str(tmp_path / 'big'), '--no-progress']) == 2


def test_ctrl_c_while_training_leaves_complete_checkpoints(tmp_path):
    data = make_paired_folders(str(tmp_path / 'data'))
    opt = write_options(tiny_options(data, name='long', total_iter=100000, logger__save_checkpoint_freq=2,
                                     val__val_freq=100000), tmp_path / 'long.yml')
    proc = _start_interruptible([PYTHON, os.path.join(ROOT, 'basicsr_nafnet', 'train.py'), '-opt', opt], tmp_path)
    states = tmp_path / 'experiments' / 'long' / 'training_states'
    status, err = _interrupt_when(proc, lambda: states.is_dir() and len(os.listdir(states)) >= 2)
    assert status == 130, err
    assert 'Traceback' not in err
    assert 'continue with --auto_resume' in [line for line in err.splitlines() if line.strip()][-1]
    run = tmp_path / 'experiments' / 'long'
    assert not [p for p in run.rglob('*') if p.name.endswith('.tmp')]
    for state in states.iterdir():  # every state on disk is complete and loads
        torch.load(state, weights_only=True)
