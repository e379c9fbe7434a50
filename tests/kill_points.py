"""kill -9 at seeded random moments of a real command, the invariants checked after every kill, then reruns.

A helper module at the tests' root (not a test module). A command runs as a user starts it: a fresh interpreter
with PYTHONPATH at this checkout, in its own session so that whatever it forked can be cleaned up afterwards.
The moment of a kill: once the command holds its output's lock (the lock file names its pid; the checks of its
input come before), a delay drawn uniformly from ``[0, window)``, the window being a little longer than the
command's work measured in this process, so that some kills land while it exits. Only the command's own process
gets SIGKILL, as ``kill -9 PID`` would: the workers it forked are left to notice on their own, and are killed
only once the point is checked.

Points come in chains: a fresh output, ``chain`` killed runs of the same command one after the other (each starts
from what the previous kill left), then the same command once more, which must finish with exit 0 and leave the
result of an uninterrupted run, with nothing hidden left behind. A run that ends before its kill is not a kill
point: its output is complete, so the chain ends there and is checked as a finished one.

``KILL_REPORT=docs/reliability-kill-data.md pytest -m slow tests/data/test_kill_conversions.py
tests/inference/test_kill_deblur.py`` writes the counts of the runs of that session as a table.
"""
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field

import lmdb

from basicsr_nafnet.locks import lock_owner

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = sys.executable
ROWS = {}  # command -> KillCounts, for the report


@dataclass
class KillCounts:
    """What the kill points of one command showed."""
    points: int = 0  # runs killed while they ran
    ended_first: int = 0  # runs that ended before their kill (not points)
    chains: int = 0
    reruns: int = 0  # chains that ended in a kill, so the same command ran once more
    reruns_finished: int = 0  # of those, the reruns that ended with exit 0
    false_complete: int = 0  # outputs that looked complete and were not (must stay 0)
    stray: int = 0  # visible files outside the output, or visible half files inside it, after a kill (0)
    left_behind: int = 0  # anything (hidden included) left outside the result after the rerun (0)
    identical: int = 0  # final results equal to the uninterrupted run's
    complete_at_kill: int = 0  # reruns refused ('exists') because the kill came after the output was complete
    stale_locks: int = 0  # of those, lock files left (hidden; the next run into the output takes them over)
    states: dict = field(default_factory=dict)  # what the kills left, by kind: how the kill points spread


def start(argv, cwd):
    """Start ``python argv...`` in ``cwd`` as a user would, in its own session; stderr goes to a file."""
    err = tempfile.TemporaryFile(mode='w+')
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.Popen([PYTHON, *argv], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err,
                            start_new_session=True)
    proc.err_file = err
    return proc


def stderr_of(proc):
    proc.err_file.seek(0)
    return proc.err_file.read()


def reap(proc):
    """Kill what is left of a command's session (its forked workers) and close its stderr file."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    proc.err_file.close()


def holds_lock(lock_path, pid):
    owner = lock_owner(lock_path)
    return owner is not None and owner.get('pid') == str(pid)


def wait_for_lock(proc, lock_path, timeout=120):
    """Wait until ``proc`` holds ``lock_path`` (True) or has ended (False)."""
    deadline = time.time() + timeout
    while proc.poll() is None:
        if holds_lock(lock_path, proc.pid):
            return True
        assert time.time() < deadline, f'never took {lock_path}: {stderr_of(proc)}'
        time.sleep(0.002)
    return False


def kill_during(argv, cwd, lock_path, delay):
    """Run the command and SIGKILL it ``delay`` seconds after it took its lock; returns (proc, killed)."""
    proc = start(argv, cwd)
    if wait_for_lock(proc, lock_path):
        time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return proc, killed


def run_to_end(argv, cwd, timeout=300):
    proc = start(argv, cwd)
    try:
        proc.wait(timeout)
        return proc.returncode, stderr_of(proc)
    finally:
        reap(proc)


def kill_points(name, argv, cwd, lock_path, window, rng, points, chain, reset, after_kill, complete, final):
    """Kill ``points`` runs of one command in chains of ``chain``; returns (and records) the counts.

    Args:
        reset (callable): Remove the output (and what a kill left), before each chain.
        after_kill (callable): Returns (outputs that look complete and are not, stray visible files, a word for
            the state the kill left).
        complete (callable): True when the output is complete: a kill that came after that (while the command
            exited) leaves a rerun nothing to do, and a command that refuses an existing output says so (exit 2).
        final (callable): After the last run of a chain: returns (identical to the reference, things left behind
            other than the lock file).
    """
    counts = ROWS.setdefault(name, KillCounts())
    done = 0
    while done < points:
        reset()
        counts.chains += 1
        ended = False
        for _ in range(chain):
            proc, killed = kill_during(argv, cwd, lock_path, rng.uniform(0, window))
            try:
                if not killed:  # complete: a rerun would be refused ('output exists'), so check it as it is
                    counts.ended_first += 1
                    assert proc.returncode == 0, stderr_of(proc)
                    ended = True
                    break
                done += 1
                counts.points += 1
                false_complete, stray, state = after_kill()
                counts.states[state] = counts.states.get(state, 0) + 1
                counts.false_complete += false_complete
                counts.stray += stray
            finally:
                reap(proc)
            if done >= points or complete():  # complete: the chain's next run would only be refused
                break
        if not ended:
            counts.reruns += 1
            was_complete = complete()
            status, err = run_to_end(argv, cwd)
            if was_complete and status == 2 and 'exists' in err:
                counts.complete_at_kill += 1
                counts.stale_locks += os.path.exists(lock_path)
            else:
                assert status == 0, err
                assert not os.path.exists(lock_path)
            counts.reruns_finished += 1
        identical, left = final()
        counts.identical += bool(identical)
        counts.left_behind += left
    return counts


# ------------------------------------------------------------------------------------------------ contents


def lmdb_content(path):
    """``meta_info.txt`` and every record of an LMDB folder (opened read-only, no lock file)."""
    with open(os.path.join(path, 'meta_info.txt'), 'rb') as f:
        meta = f.read()
    with lmdb.open(os.fspath(path), readonly=True, lock=False) as env, env.begin() as txn:
        return meta, dict(txn.cursor())


def tree(folder, hidden=True):
    """``{relative path: bytes}`` of the files under ``folder`` (hidden ones too unless ``hidden`` is False)."""
    found = {}
    for base, dirs, files in os.walk(folder):
        if not hidden:
            dirs[:] = [d for d in dirs if not d.startswith('.')]
            files = [f for f in files if not f.startswith('.')]
        for name in files:
            path = os.path.join(base, name)
            with open(path, 'rb') as f:
                found[os.path.relpath(path, folder)] = f.read()
    return found


def visible(folder):
    return sorted(name for name in os.listdir(folder) if not name.startswith('.'))


def write_report(target):
    """The counts of every command run in this session, as a Markdown table, written atomically."""
    from basicsr_nafnet.fileio import atomic_write

    rows = ['| command | kill points | runs that ended before their kill | reruns that finished | '
            'outputs that looked complete and were not | visible files outside the output or half files in it, '
            'after a kill | left behind after the rerun | results identical to an uninterrupted run | '
            'reruns refused as complete (kill while exiting) | stale lock files then left |',
            '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    spread = []
    for name, c in sorted(ROWS.items()):
        spread.append(f"- `{name}`: {', '.join(f'{k} {v}' for k, v in Counter(c.states).most_common())}")
        rows.append(f'| `{name}` | {c.points} | {c.ended_first} | {c.reruns_finished}/{c.reruns} | '
                    f'{c.false_complete} | {c.stray} | {c.left_behind} | {c.identical}/{c.chains} | '
                    f'{c.complete_at_kill} | {c.stale_locks} |')
    text = [
        '# Reliability: kill -9 of the conversions and of deblur',
        '',
        'Generated by `KILL_REPORT=docs/reliability-kill-data.md .venv/bin/python -m pytest -m slow '
        'tests/data/test_kill_conversions.py tests/inference/test_kill_deblur.py` (how the kill moments are drawn: '
        '`tests/kill_points.py`). Each command runs in a fresh interpreter on tiny data and gets SIGKILL at a '
        'seeded random moment after it took its output lock; then the invariants are checked (every LMDB with a '
        '`meta_info.txt`, every synthetic dataset folder, every visible deblurred image equals the uninterrupted '
        "run's; nothing visible outside the output or half-written inside it), and the same command runs again "
        "from what the kill left: it must finish (exit 0) with the uninterrupted run's result, byte for byte "
        '(LMDB keys and values, image files), and leave nothing hidden behind (lock, marker, `.partial`, '
        'temporary files). Every run in a CI test run does the same for 3 points per command.',
        '',
        *rows,
        '',
        'Where the kills landed (what each left behind):',
        '',
        *spread,
        '',
    ]
    atomic_write(target, '\n'.join(text))


# ------------------------------------------------------------------------------------------------ two at once


def second_while_first_holds(argv_first, argv_second, cwd, lock_path):
    """Start the first command; once it holds its lock, freeze it (SIGSTOP) and run the second to its end; then
    let the first go on. Returns ``(first pid, first status, first stderr, second status, second stderr)``."""
    first = start(argv_first, cwd)
    try:
        assert wait_for_lock(first, lock_path), stderr_of(first)
        os.kill(first.pid, signal.SIGSTOP)
        try:
            status, err = run_to_end(argv_second, cwd)
        finally:
            os.kill(first.pid, signal.SIGCONT)
        first.wait(300)
        return first.pid, first.returncode, stderr_of(first), status, err
    finally:
        reap(first)


def together(argv_a, argv_b, cwd):
    """Start both commands at once; returns ``[(pid, status, stderr), ...]``."""
    procs = [start(argv_a, cwd), start(argv_b, cwd)]
    try:
        for proc in procs:
            proc.wait(300)
        return [(proc.pid, proc.returncode, stderr_of(proc)) for proc in procs]
    finally:
        for proc in procs:
            reap(proc)


def refused_in_one_line(err, *texts):
    """The stderr of a refused command: no traceback, one error line, the last, holding every text (lines before it
    are what the command said it was doing, e.g. deblur's 'model: ...')."""
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if 'error' in line.lower()]
    return ('Traceback' not in err and len(errors) == 1 and lines[-1] == errors[0] and errors[0].startswith('error: ')
            and all(t in errors[0] for t in texts))
