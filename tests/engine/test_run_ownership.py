"""Two runs with the same name: the second is refused in one line naming the first, creating nothing."""
import os
import signal
import subprocess
import time

import pytest
from training_utils import (command_env, make_paired_folders, tiny_options, tiny_test_options, train_command,
                            write_options)

from basicsr_nafnet.engine.experiment import run_lock_path
from basicsr_nafnet.engine.ownership import own_run
from basicsr_nafnet.locks import lock_owner


@pytest.fixture(scope='module')
def paired(tmp_path_factory):
    return make_paired_folders(str(tmp_path_factory.mktemp('paired')))


def tree(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files + [''])


def wait_for_lock(proc, lock, timeout=120):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        owner = lock_owner(lock)
        if owner and owner.get('pid') == str(proc.pid) and os.path.isdir(os.path.dirname(lock) + '/same/models'):
            return owner
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    raise AssertionError(f'{lock} was not taken within {timeout} s')


def test_second_training_with_the_same_name_is_refused(paired, tmp_path):
    opt = tiny_options(paired, name='same', total_iter=100000, logger__save_checkpoint_freq=5, val__val_freq=100000)
    opt_path = write_options(opt, tmp_path / 'opt.yml')
    lock = run_lock_path('same', str(tmp_path))
    first = subprocess.Popen(train_command(opt_path), cwd=tmp_path, env=command_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        wait_for_lock(first, lock)
        before = [p for p in tree(tmp_path) if not p.startswith(os.path.join('experiments', 'same', ''))]
        second = subprocess.run(train_command(opt_path), cwd=tmp_path, env=command_env(), capture_output=True,
                                text=True, timeout=300)
        assert second.returncode == 2, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith('error: '), second.stderr
        assert f'in use by process {first.pid}' in lines[0] and 'same' in lines[0]
        after = [p for p in tree(tmp_path) if not p.startswith(os.path.join('experiments', 'same', ''))]
        assert after == before  # no archived folder, no second log, nothing beside the first run
        assert len(list((tmp_path / 'experiments' / 'same').glob('train_same_*.log'))) == 1
        assert first.poll() is None  # the first run goes on
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # the killed owner's lock is stale: the next run takes it over, says so, and resumes
    resumed = subprocess.run(train_command(opt_path, '--auto_resume', '--force_yml', 'train:total_iter=10'),
                             cwd=tmp_path, env=command_env(), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f'taking over the lock of process {first.pid}' in resumed.stderr
    assert not os.path.exists(lock)  # released at the end
    assert not list((tmp_path / 'experiments').glob('same_archived_*'))


def test_test_run_into_a_busy_results_folder_is_refused(paired, tmp_path):
    from tiny_models import tiny_checkpoint

    tiny_checkpoint(tmp_path / 'tiny.pth')
    opt = tiny_test_options(paired, 'busy', tmp_path / 'tiny.pth')
    opt_path = write_options(opt, tmp_path / 'test.yml')
    with own_run('busy', str(tmp_path), is_train=False):  # this process is the live owner
        refused = subprocess.run(train_command(opt_path, script='test.py'), cwd=tmp_path, env=command_env(),
                                 capture_output=True, text=True, timeout=300)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.count('\n') == 1 and f'in use by process {os.getpid()}' in refused.stderr
        assert sorted(os.listdir(tmp_path / 'results')) == ['.busy.lock']  # nothing made, nothing moved aside
    done = subprocess.run(train_command(opt_path, script='test.py'), cwd=tmp_path, env=command_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(os.listdir(tmp_path / 'results')) == ['busy']
