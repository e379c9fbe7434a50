"""kill -9 at seeded moments of a training that saves often; --auto_resume then ends bit-identical to a straight run.

Each kill point starts ``basicsr_nafnet/train.py`` as a subprocess in a fresh folder and SIGKILLs it at a time
drawn uniformly within the measured length of an uninterrupted run (start-up, folder creation and training
alike), just after its n-th 'Saving models' line (inside or right after a checkpoint write), or at its 'Start
training' line (run folder made, no state yet). After the kill, every visible ``.pth``/``.state`` must load with
``weights_only=True``; ``--auto_resume`` must finish, leave no temporaries and nothing outside the run, and its
``net_g_latest.pth`` must equal the straight run's tensor for tensor. The CI sample runs 3 points (one of each
kind); ``pytest -m slow tests/engine/test_kill_training.py -s`` runs 24 and prints the table that
docs/reliability.md quotes.
"""
import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest
import torch
from training_utils import command_env, make_paired_folders, tiny_options, train_command, write_options

from basicsr_nafnet.engine.checkpoint import CheckpointError, load_state

TOTAL, SAVE_EVERY = 18, 2  # 3 iterations per epoch: states at epoch ends (6, 12, 18) and mid-epoch (2, 4, 8, ...)
SEED = 24
NAME = 'killed'


def run_files(root):
    return [os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files]


def final_weights(root):
    return torch.load(os.path.join(root, 'experiments', NAME, 'models', 'net_g_latest.pth'), weights_only=True)


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    """The uninterrupted run: its final weights and how long it took."""
    base = tmp_path_factory.mktemp('kill')
    data = make_paired_folders(str(base / 'data'))
    opt = tiny_options(data, name=NAME, total_iter=TOTAL, logger__save_checkpoint_freq=SAVE_EVERY,
                       logger__print_freq=1, val__val_freq=100)
    opt_path = write_options(opt, base / 'opt.yml')
    root = base / 'straight'
    root.mkdir()
    start = time.monotonic()
    done = subprocess.run(train_command(opt_path), cwd=root, env=command_env(), capture_output=True, text=True,
                          timeout=600)
    seconds = time.monotonic() - start
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(base=base, opt_path=opt_path, weights=final_weights(root), seconds=seconds)


def kill_at(rng, opt_path, root, seconds, mode=None):
    """Start a training in ``root`` and SIGKILL it at a drawn moment; returns how the moment was drawn.

    ``mode``: 'time' (uniform within ``seconds``), 'save' (just after a drawn checkpoint save), 'start' (at
    BasicSR's 'Start training' line: the run folder exists, no state yet); None draws 'time' or 'save'.
    """
    proc = subprocess.Popen(train_command(opt_path), cwd=root, env=command_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    seen, changed = {'saves': 0, 'started': False}, threading.Condition()

    def read():
        for line in proc.stderr:
            with changed:
                seen['saves'] += 'Saving models' in line
                seen['started'] |= 'Start training' in line
                changed.notify_all()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    mode = mode or ('time' if rng.random() < 0.5 else 'save')
    if mode == 'time':
        moment = float(rng.uniform(0, seconds))
        how = f'at {moment:.2f} s'
        try:
            proc.wait(timeout=moment)
        except subprocess.TimeoutExpired:
            pass
    else:
        count, delay = int(rng.integers(1, TOTAL // SAVE_EVERY + 1)), float(rng.uniform(0, 0.05))
        how = f'{delay * 1000:.0f} ms after save {count}' if mode == 'save' else 'at the start of training'
        done = (lambda: seen['saves'] >= count) if mode == 'save' else (lambda: seen['started'])
        with changed:
            changed.wait_for(lambda: done() or proc.poll() is not None, timeout=seconds * 3)
        if mode == 'save':
            time.sleep(delay)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader.join(timeout=10)
    return how, proc.returncode == -signal.SIGKILL


def kill_and_resume(rng, reference, root, mode=None):
    """One kill point: the counts of what was seen (see the module's docstring)."""
    root.mkdir()
    how, killed = kill_at(rng, reference['opt_path'], root, reference['seconds'], mode)
    run = root / 'experiments' / NAME
    left = 'states' if list(run.glob('training_states/*.state')) else 'folder' if run.is_dir() else 'nothing'
    half_written = []
    for path in run_files(root):
        if path.endswith(('.pth', '.state')) and not os.path.basename(path).startswith('.'):
            try:
                load_state(os.path.join(root, path))
            except CheckpointError:
                half_written.append(path)
    rerun = subprocess.run(train_command(reference['opt_path'], '--auto_resume'), cwd=root, env=command_env(),
                           capture_output=True, text=True, timeout=600)
    files = run_files(root)
    in_run = os.path.join('experiments', NAME, '')
    archived = {p.split(os.sep)[1] for p in files if p.startswith(os.path.join('experiments', f'{NAME}_archived_'))}
    stray = [p for p in files if not p.startswith(in_run) and p.split(os.sep)[1] not in archived]
    temporaries = [p for p in files if p.startswith(in_run) and p.endswith('.tmp')]
    identical = False
    if rerun.returncode == 0:
        got, want = final_weights(root)['params'], reference['weights']['params']
        identical = got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    return dict(how=how, killed=killed, left=left, half_written=half_written, finished=rerun.returncode == 0,
                stderr=rerun.stderr[-2000:], stray=stray, temporaries=temporaries, archived=len(archived),
                identical=identical)


def check(points):
    for p in points:
        assert not p['half_written'], p
        assert p['finished'], p
        assert not p['stray'] and not p['temporaries'], p
        assert p['identical'], p


def table(points):
    rows = [('kill points', len(points)),
            ('killed before finishing', sum(p['killed'] for p in points)),
            ('... before the run folder was made', sum(p['left'] == 'nothing' for p in points)),
            ('... with the run folder made, before its first training state',
             sum(p['left'] == 'folder' for p in points)),
            ('... with training states saved', sum(p['left'] == 'states' for p in points)),
            ('visible .pth/.state that did not load (half-written)', sum(len(p['half_written']) for p in points)),
            ('--auto_resume reruns that finished', sum(p['finished'] for p in points)),
            ('final net_g_latest.pth bit-identical to the straight run', sum(p['identical'] for p in points)),
            ('files left outside the run folder', sum(len(p['stray']) for p in points)),
            ('temporaries left after the rerun', sum(len(p['temporaries']) for p in points)),
            ('reruns that started over (killed before the first state; old folder archived)',
             sum(p['archived'] > 0 for p in points))]
    return '\n'.join(['| what | count |', '| --- | --- |'] + [f'| {what} | {count} |' for what, count in rows])


def test_kill_during_training_ci_sample(reference):
    rng = np.random.default_rng(SEED)
    points = [kill_and_resume(rng, reference, reference['base'] / f'ci{i}', mode)
              for i, mode in enumerate(['start', 'time', 'save'])]
    check(points)
    # a kill before the first state: --auto_resume has nothing to resume, starts over and moves the old folder aside
    assert points[0]['left'] == 'folder' and points[0]['archived'] == 1, points[0]


@pytest.mark.slow
def test_kill_during_training_full(reference):
    rng = np.random.default_rng(SEED + 1)
    points = [kill_and_resume(rng, reference, reference['base'] / f'full{i}', 'start' if i == 0 else None)
              for i in range(24)]
    print(f"\nstraight run {reference['seconds']:.1f} s; kill moments: " + '; '.join(p['how'] for p in points))
    print(table(points))
    check(points)
