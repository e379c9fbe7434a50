"""Training runs as processes: several at once, stopped at a deadline, and which checkpoints each saved.

The ladder (:mod:`basicsr_nafnet.ladder`) trains every rung x seed this way and compares them at the last
iteration all of them saved (:func:`common_iteration`).
"""
import os
import os.path as osp
import re
import signal
import subprocess
import time

from ..errors import UserError
from .experiment import LATEST, STATE_SUFFIX, run_paths

__all__ = ['saved_iterations', 'common_iteration', 'train_runs']


def saved_iterations(run_dir, total_iter=None):
    """Iterations of the run's saved checkpoints (``net_g_<iter>.pth``; a finished run's ``net_g_latest.pth``)."""
    paths = run_paths(run_dir)
    models = paths['models']
    found = {}
    for name in (os.listdir(models) if osp.isdir(models) else ()):
        match = re.fullmatch(r'net_g_(\d+)\.pth', name)
        if match:
            found[int(match.group(1))] = osp.join(models, name)
    latest = osp.join(models, f'net_g_{LATEST}.pth')
    finished = total_iter is not None and osp.isfile(osp.join(paths['training_states'], f'{total_iter}{STATE_SUFFIX}'))
    if finished and osp.isfile(latest):
        found.setdefault(total_iter, latest)
    return found


def common_iteration(run_dirs, total_iter=None):
    """The last iteration at which every run had saved a checkpoint, and each run's checkpoint there.

    Raises:
        UserError: A run saved no checkpoint (stopped before its first), or no iteration is common to all.
    """
    saved = {d: saved_iterations(d, total_iter) for d in run_dirs}
    empty = [osp.basename(d) for d, its in saved.items() if not its]
    if empty:
        raise UserError(f"no checkpoint saved by {', '.join(empty)}: nothing to compare (a longer deadline or "
                        'more frequent checkpoints are needed)')
    common = set.intersection(*(set(its) for its in saved.values()))
    if not common:
        raise UserError(f'the runs share no checkpoint iteration: {saved}')
    last = max(common)
    return last, {d: saved[d][last] for d in run_dirs}


def _stop(procs, grace_s=20):
    """SIGINT (the train command's clean stop) to every process, then SIGKILL to those still going after ``grace_s``."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    end = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(max(0.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _launch(command, root, concurrent, threads, log_path):
    package_parent = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))  # importable from any folder
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (package_parent, os.environ.get('PYTHONPATH')) if p))
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    if concurrent == 1:  # one at a time: its output on the terminal, as the demo's
        return subprocess.Popen(command, cwd=root, env=env), None
    os.makedirs(osp.dirname(log_path), exist_ok=True)
    out = open(log_path, 'ab')
    return subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT), out


def train_runs(jobs, root, is_finished, concurrent=1, deadline_s=None, threads=None, log=print, poll_s=0.5,
               what='', tag='[runs]'):
    """Train ``(name, command)`` jobs as processes, ``concurrent`` at a time; those still going at the deadline stop.

    Args:
        jobs (list[tuple[str, list[str]]]): Run names and their commands (run in ``root``).
        root (str): The working directory of the runs (their ``experiments/`` go there).
        is_finished (callable): ``is_finished(name) -> bool``: a run already trained is not started again.
        concurrent (int): Runs at the same time; with 1 a run's output goes to the terminal, else to
            ``root/ladder_logs/<name>.txt``.
        deadline_s (float | None): Seconds from the start after which runs still going are stopped (SIGINT, then
            SIGKILL) and pending ones not started.
        threads (int | None): OMP_NUM_THREADS of each run.
        log (callable): Progress lines. poll_s (float): How often the processes are polled.
        what (str): How progress lines describe a run's training (e.g. '1200 iterations on cpu').
        tag (str): Prefix of progress lines.

    Returns:
        dict: ``name -> 'finished' | 'already trained' | 'stopped at the deadline' | 'not started'``.

    Raises:
        UserError: A run failed (its exit status and where its output is).
        KeyboardInterrupt: A run was interrupted from outside.
    """
    status, pending, active, failed = {}, list(jobs), {}, []
    deadline = None if deadline_s is None else time.monotonic() + deadline_s
    try:
        while pending or active:
            past = deadline is not None and time.monotonic() >= deadline
            while pending and len(active) < concurrent and not past:
                name, command = pending.pop(0)
                if is_finished(name):
                    status[name] = 'already trained'
                    log(f'{tag} {name}: already trained')
                    continue
                log_path = osp.join(root, 'ladder_logs', f'{name}.txt')
                log(f'{tag} training {name}' + (f': {what}' if what else ''))
                active[name] = _launch(command, root, concurrent, threads, log_path) + (log_path, )
            stopping = {name for name, (proc, _, _) in active.items() if past and proc.poll() is None}
            _stop([active[name][0] for name in stopping])  # all at once: their grace periods overlap
            for name, (proc, out, log_path) in list(active.items()):
                code = proc.poll()
                if name in stopping:  # whatever its exit status after the stop
                    status[name] = 'stopped at the deadline'
                    log(f'{tag} {name}: stopped at the deadline ({deadline_s:g} s)')
                elif code is None:
                    continue
                elif code == 130 and not past:
                    raise KeyboardInterrupt
                elif code != 0:
                    failed.append(f"{name} (exit status {code}; output: {log_path if out else 'above'})")
                else:
                    status[name] = 'finished'
                if out:
                    out.close()
                del active[name]
            if past:
                for name, _ in pending:
                    status[name] = 'not started'
                pending = []
            if active:
                time.sleep(poll_s)
    finally:
        _stop([proc for proc, _, _ in active.values()], grace_s=5)
        for _, out, _ in active.values():
            if out:
                out.close()
    if failed:
        raise UserError(f"training failed: {'; '.join(failed)}")
    return status
