"""One owner per output at a time: a lock file that names its owner and dies with it.

Two commands writing the same output at once (two conversions into one folder, two trainings with the
same name, two deblur runs into one folder) would each see half of the other's files. :func:`output_lock`
holds an exclusive ``fcntl.flock`` on a small file that records the owner's pid, host and start time; a
second command asking for the same lock is refused in one line naming that owner (or, with ``wait=True``,
waits for it). The kernel releases a ``flock`` when its process dies, even by ``kill -9``, so a lock left
behind by a dead process is stale by construction: the next command takes it over and says so.

The lock file is removed on release. Removing a lock file races with a process that opened it just before
(it would lock a file no longer in the folder), so after locking, the file is checked to still be the one at
the path, and the lock is taken again if not.
"""
import contextlib
import os
import socket
import sys
import time

from .errors import UserError

try:
    import fcntl
except ImportError:  # not on Windows: outputs there go unlocked
    fcntl = None

__all__ = ['LOCK_NAME', 'OutputBusy', 'output_lock', 'lock_owner']

LOCK_NAME = '.basicsr_nafnet.lock'  # inside an output folder; the leading dot keeps it out of listings and globs

# A forked child (a worker pool) inherits the lock's descriptor, and a flock lives until every copy is closed: a
# worker outliving its killed parent would keep the lock. Children close their copies at once (closing a copy
# does not unlock the parent's).
_HELD = set()


def _close_inherited_locks():
    for fd in _HELD:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(after_in_child=_close_inherited_locks)


class OutputBusy(UserError):
    """Another live process holds the lock of the output this command was given."""


def lock_owner(path):
    """What the lock file at ``path`` says about its owner: a dict (pid, host, started, command), or None."""
    try:
        with open(path, encoding='utf-8') as f:
            fields = dict(line.split('=', 1) for line in f.read().splitlines() if '=' in line)
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return fields or None


def _owner_once_written(path, patience=1.0):
    """The owner of a held lock; the owner writes its pid right after locking, so an empty file is read again.

    A file that is gone was released meanwhile (its holder removes it before unlocking): None at once.
    """
    deadline = time.monotonic() + patience
    while True:
        owner = lock_owner(path)
        if (owner and 'pid' in owner) or time.monotonic() > deadline or not os.path.exists(path):
            return owner
        time.sleep(0.02)


def _describe(owner):
    if not owner:
        return 'another process'
    text = f"process {owner.get('pid', '?')}"
    if owner.get('host') and owner['host'] != socket.gethostname():
        text += f" on {owner['host']}"
    if owner.get('started'):
        text += f" (started {owner['started']})"
    return text


def _lock_once(path, wait):
    """Open and lock ``path``; returns (fd, stale owner or None), or None when the file was replaced meanwhile."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return 'busy'
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if not same:  # the previous owner removed the file between our open and our lock: lock the new one
            return None
        stale = lock_owner(path)
        record = (f'pid={os.getpid()}\nhost={socket.gethostname()}\n'
                  f"started={time.strftime('%Y-%m-%d %H:%M:%S')}\n"
                  f"command={' '.join(sys.argv)[:300]}\n").encode('utf-8', 'replace')
        os.pwrite(fd, record, 0)  # over the old record, then cut: a reader never meets an empty file here
        os.ftruncate(fd, len(record))
        os.fsync(fd)
        result, fd = (fd, stale), None
        return result
    finally:
        if fd is not None:
            os.close(fd)


@contextlib.contextmanager
def output_lock(path, target, wait=False, announce=None):
    """Hold the lock file ``path`` for the output ``target`` while the block runs.

    Args:
        path (str): The lock file (created, and removed on release); its folder must exist.
        target (str): The output the lock guards, for the refusal message.
        wait (bool): Wait for another owner to finish instead of refusing.
        announce (callable | None): Called with one line when a waiting starts or a stale lock (its owner died)
            is taken over, e.g. ``print`` to stderr; None says nothing.

    Yields:
        dict | None: What the stale lock said about its dead owner, or None when there was none.

    Raises:
        OutputBusy: ``wait`` is False and a live process holds the lock.
    """
    if fcntl is None:
        yield None
        return
    path = os.fspath(path)
    unnamed_tries = 3  # a holder that records no owner is not ours; ask again only a few times
    while True:
        got = _lock_once(path, wait=False)
        if got == 'busy':
            owner = _owner_once_written(path)
            if not (owner and 'pid' in owner) and unnamed_tries > 1:
                # No owner on record: most likely the holder released (removing its file) between our try and our
                # read, so the output is free now; try again rather than refuse naming nobody.
                unnamed_tries -= 1
                continue
            if not wait:
                raise OutputBusy(f'{target}: in use by {_describe(owner)} (lock file {path}); wait for it to finish '
                                 'or stop it, or choose another output')
            if announce:
                announce(f'waiting for {_describe(owner)}, which holds {path}')
            got = _lock_once(path, wait=True)
        if got not in (None, 'busy'):
            break
    fd, stale = got
    _HELD.add(fd)
    if stale and announce:
        announce(f'{target}: taking over the lock of {_describe(stale)}, which ended without releasing it')
    try:
        yield stale
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)  # before unlocking: a waiter that then locks this file sees it replaced and retries
        fcntl.flock(fd, fcntl.LOCK_UN)
        _HELD.discard(fd)
        os.close(fd)
