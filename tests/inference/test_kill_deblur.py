"""kill -9 and two at once: deblur.py, as real processes.

After every kill, every visible file in the output folder is a whole image equal to the uninterrupted run's (half
written ones are hidden temporaries, removed by the next run); the same command then rewrites the folder to the
uninterrupted run's bytes. Two runs into one folder: the second is refused in one line naming the first while the
first runs, and the folder never mixes the outputs of two models. How the kills are placed and counted:
tests/kill_points.py. 3 kill points in every run; ``pytest -m slow`` runs 20.
"""
import os
import shutil
import time

import cv2
import numpy as np
import pytest
import torch
from kill_points import (ROOT, kill_points, refused_in_one_line, second_while_first_holds, together, tree, visible,
                         write_report)
from skimage import data as skdata
from tiny_models import TINY_SPEC, tiny_checkpoint

from basicsr_nafnet.commands import deblur as deblur_cli
from basicsr_nafnet.locks import LOCK_NAME

pytestmark = pytest.mark.skipif(os.name != 'posix', reason='kill -9 and flock')

SCRIPT = os.path.join(ROOT, 'scripts', 'deblur.py')


def _argv(out='out', checkpoint='tiny.pth'):
    return ['-i', 'imgs', '-o', out, '--model', f'{TINY_SPEC}@{checkpoint}', '--threads', '1']


@pytest.fixture(scope='module', autouse=True)
def report():
    yield
    if os.environ.get('KILL_REPORT'):
        write_report(os.environ['KILL_REPORT'])


def _world(root, images=6):
    os.makedirs(root / 'imgs')
    photo = skdata.astronaut()
    for i in range(images):
        cv2.imwrite(str(root / 'imgs' / f'{i:02d}.png'), np.ascontiguousarray(photo[40 * i:40 * i + 64, 100:164, ::-1]))
    tiny_checkpoint(root / 'tiny.pth', seed=0)
    tiny_checkpoint(root / 'other.pth', seed=1)


def _reference(root, argv):
    """The uninterrupted result (the command's real main in this process, one thread as the runs use) and its time."""
    threads, cwd = torch.get_num_threads(), os.getcwd()
    os.chdir(root)
    try:
        started = time.perf_counter()
        assert deblur_cli.main(argv) == 0
        return time.perf_counter() - started
    finally:
        os.chdir(cwd)
        torch.set_num_threads(threads)


def _kill_deblur(tmp_path, points, chain, seed):
    _world(tmp_path)
    seconds = _reference(tmp_path, _argv('ref'))
    reference = tree(tmp_path / 'ref')
    out = tmp_path / 'out'
    before = sorted(os.listdir(tmp_path))

    def reset():
        shutil.rmtree(out, ignore_errors=True)

    def after_kill():
        shown = tree(out, hidden=False) if out.exists() else {}
        false_complete = sum(1 for name, data in shown.items()
                             if reference.get(name) != data
                             or cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) is None)
        stray = len(set(visible(tmp_path)) - set(before) - {'out'})
        return false_complete, stray, f'{len(shown)} of {len(reference)} images'

    def final():
        files = tree(out)
        files.pop(LOCK_NAME, None)
        return files == reference, len(set(files) - set(reference)) + len(set(os.listdir(tmp_path)) - set(before)
                                                                          - {'out'})

    counts = kill_points('deblur.py', [SCRIPT, *_argv()], tmp_path, str(out / LOCK_NAME), 1.5 * seconds,
                         np.random.default_rng(seed), points, chain, reset, after_kill, lambda: False, final)
    assert counts.false_complete == 0 and counts.stray == 0 and counts.left_behind == 0, counts
    assert counts.reruns_finished == counts.reruns and counts.identical == counts.chains, counts


def test_deblur_killed_3_times_then_finishes(tmp_path):
    _kill_deblur(tmp_path, points=3, chain=3, seed=5)


@pytest.mark.slow
def test_deblur_killed_at_20_points(tmp_path):
    _kill_deblur(tmp_path, points=20, chain=1, seed=6)


def test_second_deblur_into_one_folder_is_refused_naming_the_first(tmp_path):
    _world(tmp_path, images=2)
    _reference(tmp_path, _argv('ref'))
    pid, status, err, second, second_err = second_while_first_holds(
        [SCRIPT, *_argv()], [SCRIPT, *_argv(checkpoint='other.pth')], tmp_path, str(tmp_path / 'out' / LOCK_NAME))
    assert second == 2 and refused_in_one_line(second_err, 'out', f'in use by process {pid}'), second_err
    assert status == 0, err
    assert tree(tmp_path / 'out') == tree(tmp_path / 'ref')  # the first's outputs only, and no lock left


def test_two_deblurs_started_together_never_mix_their_outputs(tmp_path):
    _world(tmp_path, images=2)
    _reference(tmp_path, _argv('ref_tiny'))
    _reference(tmp_path, _argv('ref_other', 'other.pth'))
    results = together([SCRIPT, *_argv()], [SCRIPT, *_argv(checkpoint='other.pth')], tmp_path)
    for pid, status, err in results:
        other = [p for p, _, _ in results if p != pid][0]
        assert status == 0 or (status == 2 and refused_in_one_line(err, f'in use by process {other}')), err
    assert tree(tmp_path / 'out') in (tree(tmp_path / 'ref_tiny'), tree(tmp_path / 'ref_other'))


def test_an_output_folder_that_is_an_input_folder_needs_a_suffix(tmp_path, monkeypatch, capsys):
    _world(tmp_path, images=1)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(torch, 'set_num_threads', lambda n: None)  # --threads would change this process's
    before = tree(tmp_path / 'imgs')
    argv = ['-i', 'imgs', '-o', 'imgs', '--model', f'{TINY_SPEC}@tiny.pth', '--threads', '1']
    assert deblur_cli.main(argv + ['--ext', 'jpg']) == 2  # outputs a rerun would read back as inputs
    assert refused_in_one_line(capsys.readouterr().err, '-o/--output imgs', 'also an input folder', '--suffix')
    assert tree(tmp_path / 'imgs') == before
    for _ in range(2):  # with a suffix, the second run skips the first run's outputs
        assert deblur_cli.main(argv + ['--suffix', '_sharp', '--ext', 'jpg']) == 0
        assert sorted(os.listdir(tmp_path / 'imgs')) == ['00.png', '00_sharp.jpg']


def test_a_rerun_removes_the_temporaries_of_a_killed_run_only(tmp_path, monkeypatch):
    _world(tmp_path, images=1)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(torch, 'set_num_threads', lambda n: None)
    (tmp_path / 'out').mkdir()
    dead = tmp_path / 'out' / f'.00.png.{2 ** 22 + 12345}-0123abcd.tmp'  # beyond Linux's largest pid: no such process
    live = tmp_path / 'out' / '.00.png.1-0123abcd.tmp'  # pid 1 lives: perhaps another writer's, kept
    for path in (dead, live):
        path.write_bytes(b'half a png')
    assert deblur_cli.main(_argv()) == 0
    assert sorted(os.listdir(tmp_path / 'out')) == [live.name, '00.png']
