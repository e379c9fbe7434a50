"""The output lock: one owner at a time, refused in one line, a dead owner's lock taken over, no file left."""
import os
import subprocess
import sys
import textwrap

import pytest

from basicsr_nafnet.errors import UserError
from basicsr_nafnet.locks import OutputBusy, lock_owner, output_lock

pytestmark = pytest.mark.skipif(sys.platform == 'win32', reason='fcntl locks')

HOLD = textwrap.dedent("""
    import sys, time
    from basicsr_nafnet.locks import output_lock
    with output_lock(sys.argv[1], 'out'):
        print('locked', flush=True)
        time.sleep(60)
""")


def _holder(path):
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.Popen([sys.executable, '-c', HOLD, str(path)], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == 'locked'
    return proc


def test_lock_records_owner_and_is_removed_on_release(tmp_path):
    path = tmp_path / 'x.lock'
    with output_lock(path, 'out') as stale:
        assert stale is None
        owner = lock_owner(path)
        assert owner['pid'] == str(os.getpid())
    assert not path.exists()


def test_second_owner_refused_in_one_line_naming_the_first(tmp_path):
    path = tmp_path / 'x.lock'
    proc = _holder(path)
    try:
        with pytest.raises(OutputBusy) as err:
            with output_lock(path, 'my-output'):
                pass
        message = str(err.value)
        assert isinstance(err.value, UserError)
        assert '\n' not in message and 'my-output' in message and f'process {proc.pid}' in message
    finally:
        proc.kill()
        proc.wait()


def test_lock_of_a_killed_owner_is_taken_over(tmp_path):
    path = tmp_path / 'x.lock'
    proc = _holder(path)
    proc.kill()  # SIGKILL: no clean-up ran, the file stays with the dead owner's pid
    proc.wait()
    assert lock_owner(path)['pid'] == str(proc.pid)
    said = []
    with output_lock(path, 'out', announce=said.append) as stale:
        assert stale['pid'] == str(proc.pid)
        assert lock_owner(path)['pid'] == str(os.getpid())
    assert len(said) == 1 and 'ended without releasing' in said[0]
    assert not path.exists()


def test_waiting_owner_gets_the_lock_after_the_first_ends(tmp_path):
    path = tmp_path / 'x.lock'
    proc = _holder(path)
    said = []
    import threading
    threading.Timer(0.5, proc.kill).start()
    with output_lock(path, 'out', wait=True, announce=said.append):
        assert lock_owner(path)['pid'] == str(os.getpid())
    proc.wait()
    assert said and 'waiting for' in said[0]


HOLD_WITH_CHILD = textwrap.dedent("""
    import os, sys, time
    from basicsr_nafnet.locks import output_lock
    with output_lock(sys.argv[1], 'out'):
        child = os.fork()
        if child == 0:  # a worker (as a pool forks them) that outlives its parent
            time.sleep(60)
            os._exit(0)
        print(child, flush=True)
        time.sleep(60)
""")


def test_a_forked_worker_does_not_keep_a_killed_owners_lock(tmp_path):
    path = tmp_path / 'x.lock'
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.Popen([sys.executable, '-c', HOLD_WITH_CHILD, str(path)], stdout=subprocess.PIPE, text=True,
                            env=env)
    child = int(proc.stdout.readline())
    try:
        proc.kill()  # kill -9 of the command alone: its worker lives on
        proc.wait()
        os.kill(child, 0)  # still alive
        with output_lock(path, 'out') as stale:
            assert stale['pid'] == str(proc.pid)
    finally:
        os.kill(child, 9)


SLOW_WRITER = textwrap.dedent("""
    import fcntl, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print('locked', flush=True)
    time.sleep(0.3)  # the record comes a moment after the lock, as in output_lock
    os.pwrite(fd, f'pid={os.getpid()}\\n'.encode(), 0)
    time.sleep(60)
""")


def test_refusal_waits_for_the_owners_record_to_name_it(tmp_path):
    path = tmp_path / 'x.lock'
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.Popen([sys.executable, '-c', SLOW_WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == 'locked'
        with pytest.raises(OutputBusy, match=f'in use by process {proc.pid} '):
            with output_lock(path, 'out'):
                pass
    finally:
        proc.kill()
        proc.wait()


def test_an_owner_releasing_while_refused_is_not_blamed(tmp_path, monkeypatch):
    # The race CI met: the holder ends (removing its lock file) between our failed try and our read of its
    # record; the output is free then, so the lock is taken instead of refused naming 'another process'.
    import basicsr_nafnet.locks as locks
    path = tmp_path / 'x.lock'
    proc = _holder(path)
    read_owner = locks._owner_once_written

    def holder_ends_first(lock_path, *args, **kwargs):
        if proc.poll() is None:
            os.remove(lock_path)  # a clean release: the file goes, then the flock (here by the holder's death)
            proc.kill()
            proc.wait()
        return read_owner(lock_path, *args, **kwargs)

    monkeypatch.setattr(locks, '_owner_once_written', holder_ends_first)
    with output_lock(path, 'out') as stale:
        assert stale is None and lock_owner(path)['pid'] == str(os.getpid())
    assert not path.exists()


def test_a_lock_file_gone_is_not_waited_for(tmp_path, monkeypatch):
    # the owner's record is read again while the file is empty (written right after locking), not once it is gone
    import basicsr_nafnet.locks as locks

    def no_sleep(seconds):
        raise AssertionError('waited for a lock file that is gone')

    monkeypatch.setattr(locks.time, 'sleep', no_sleep)
    assert locks._owner_once_written(str(tmp_path / 'gone.lock')) is None
    (tmp_path / 'empty.lock').write_text('')
    with pytest.raises(AssertionError, match='waited'):
        locks._owner_once_written(str(tmp_path / 'empty.lock'))
