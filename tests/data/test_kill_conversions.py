"""kill -9 and two at once: prepare_gopro.py and make_synthetic_gopro.py, as real processes.

After every kill nothing looks complete that is not (an LMDB with ``meta_info.txt`` holds exactly the records of an
uninterrupted run; a dataset folder is absent or whole), nothing visible is left outside the output or half-written
in it; the same command then finishes the job with the uninterrupted run's bytes. How the kills are placed and
counted: tests/kill_points.py. 3 kill points per command in every run; ``pytest -m slow`` runs 20 each.
"""
import os
import shutil
import time

import numpy as np
import pytest
from kill_points import (ROOT, kill_points, lmdb_content, refused_in_one_line, second_while_first_holds, together,
                         tree, visible, write_report)

from basicsr_nafnet.commands import make_synthetic_gopro as synthetic_cli
from basicsr_nafnet.commands import prepare_gopro as prepare_cli
from basicsr_nafnet.data.prepare import MARKER
from basicsr_nafnet.data.synthetic import make_synthetic_gopro
from basicsr_nafnet.data.verify import check_lmdb_files, verify_lmdb_pair
from basicsr_nafnet.locks import LOCK_NAME

pytestmark = pytest.mark.skipif(os.name != 'posix', reason='kill -9 and flock')

PREPARE = ['--input', 'data', '--output', 'out', '--crop-size', '32', '--step', '16', '--workers', '1',
           '--no-progress']
SYNTHETIC = ['--output', 'syn', '--train', '4', '--test', '2', '--size', '64x64', '--no-progress']
PREPARE_SCRIPT = os.path.join(ROOT, 'scripts', 'prepare_gopro.py')
SYNTHETIC_SCRIPT = os.path.join(ROOT, 'scripts', 'make_synthetic_gopro.py')
LMDBS = [os.path.join('train', 'blur_crops.lmdb'), os.path.join('train', 'sharp_crops.lmdb'),
         os.path.join('test', 'input.lmdb'), os.path.join('test', 'target.lmdb')]


@pytest.fixture(scope='module', autouse=True)
def report():
    yield
    if os.environ.get('KILL_REPORT'):
        write_report(os.environ['KILL_REPORT'])


def _reference(tmp_path, main, argv):
    """The command's result uninterrupted (its real main, in this process) and how long it took."""
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        started = time.perf_counter()
        assert main(argv) == 0
        return time.perf_counter() - started
    finally:
        os.chdir(cwd)


# ------------------------------------------------------------------------------------------------ prepare_gopro


def _prepare_world(tmp_path):
    make_synthetic_gopro(str(tmp_path / 'data'), train=6, test=2, size=(64, 96), progress=False)
    ref = tmp_path / 'ref'
    ref.mkdir()
    os.symlink('../data', ref / 'data')
    seconds = _reference(ref, prepare_cli.main, PREPARE)
    return {p: lmdb_content(ref / 'out' / p) for p in LMDBS}, sorted(tree(ref / 'out')), seconds


def _prepare_checks(tmp_path, reference, names):
    out = tmp_path / 'out'
    before = sorted(os.listdir(tmp_path))

    def reset():
        shutil.rmtree(out, ignore_errors=True)

    def after_kill():
        false_complete = stray = 0
        for rel in LMDBS:
            path = out / rel
            if path.exists():
                complete = (path / 'meta_info.txt').exists() and check_lmdb_files(str(path)) is None
                if not complete or lmdb_content(path) != reference[rel]:
                    false_complete += 1
        for split, (lq, gt) in (('train', LMDBS[:2]), ('test', LMDBS[2:])):
            if (out / lq).exists() and not (out / gt).exists():  # the sharp side is finished first
                false_complete += 1
        finished = [p for p in LMDBS if (out / p).exists()]
        state = ('all four LMDBs' + (' (marker still there)' if (out / MARKER).exists() else '')
                 if len(finished) == 4 else f'{len(finished)} of 4 LMDBs')
        stray += len(set(visible(tmp_path)) - set(before) - {'out'})
        if out.exists():
            stray += len(set(visible(out)) - {'train', 'test'})
            for split in ('train', 'test'):
                if (out / split).exists():
                    stray += len(set(visible(out / split)) - {os.path.basename(p) for p in LMDBS})
        return false_complete, stray, state

    def complete():
        return all((out / p).exists() for p in LMDBS) and not (out / MARKER).exists()

    def final():
        files = sorted(set(tree(out)) - {LOCK_NAME})
        identical = all(lmdb_content(out / p) == reference[p] for p in LMDBS) and files == names
        for split in ('train', 'test'):
            verify_lmdb_pair(str(out / LMDBS[0 if split == 'train' else 2]),
                             str(out / LMDBS[1 if split == 'train' else 3]))
        left = len(set(os.listdir(tmp_path)) - set(before) - {'out'}) + len(set(files) - set(names))
        return identical, left

    return reset, after_kill, complete, final


def _kill_prepare(tmp_path, points, chain, seed):
    reference, names, seconds = _prepare_world(tmp_path)
    checks = _prepare_checks(tmp_path, reference, names)
    counts = kill_points('prepare_gopro.py', [PREPARE_SCRIPT, *PREPARE], tmp_path,
                         str(tmp_path / 'out' / LOCK_NAME), 1.5 * seconds, np.random.default_rng(seed), points, chain,
                         *checks)
    _assert_clean(counts)


def _assert_clean(counts):
    assert counts.false_complete == 0 and counts.stray == 0 and counts.left_behind == 0, counts
    assert counts.reruns_finished == counts.reruns and counts.identical == counts.chains, counts


def test_prepare_gopro_killed_3_times_then_finishes(tmp_path):
    _kill_prepare(tmp_path, points=3, chain=3, seed=1)


@pytest.mark.slow
def test_prepare_gopro_killed_at_20_points(tmp_path):
    _kill_prepare(tmp_path, points=20, chain=1, seed=2)


# ------------------------------------------------------------------------------------------------ make_synthetic_gopro


def _synthetic_checks(tmp_path, reference):
    out = tmp_path / 'syn'
    before = sorted(os.listdir(tmp_path))
    lock = f'.syn{LOCK_NAME}'

    def reset():
        shutil.rmtree(out, ignore_errors=True)

    def after_kill():
        false_complete = int(out.exists() and tree(out) != reference)
        stray = len(set(visible(tmp_path)) - set(before) - {'syn'})
        state = 'the dataset' if out.exists() else 'its hidden .partial' if (tmp_path / '.syn.partial').exists() \
            else 'nothing'
        return false_complete, stray, state

    def complete():
        return out.exists()

    def final():
        left = len(set(os.listdir(tmp_path)) - set(before) - {'syn', lock})
        return tree(out) == reference, left

    return reset, after_kill, complete, final


def _kill_synthetic(tmp_path, points, chain, seed):
    ref = tmp_path / 'ref'
    ref.mkdir()
    seconds = _reference(ref, synthetic_cli.main, SYNTHETIC)
    work = tmp_path / 'work'
    work.mkdir()
    counts = kill_points('make_synthetic_gopro.py', [SYNTHETIC_SCRIPT,
                                                     *SYNTHETIC], work, str(work / f'.syn{LOCK_NAME}'), 1.5 * seconds,
                         np.random.default_rng(seed), points, chain, *_synthetic_checks(work, tree(ref / 'syn')))
    _assert_clean(counts)


def test_make_synthetic_gopro_killed_3_times_then_finishes(tmp_path):
    _kill_synthetic(tmp_path, points=3, chain=3, seed=3)


@pytest.mark.slow
def test_make_synthetic_gopro_killed_at_20_points(tmp_path):
    _kill_synthetic(tmp_path, points=20, chain=1, seed=4)


# ------------------------------------------------------------------------------------------------ two at once


def _same_lmdbs(out, reference):
    for lq, gt in (LMDBS[:2], LMDBS[2:]):
        verify_lmdb_pair(str(out / lq), str(out / gt))
    return all(lmdb_content(out / p) == reference[p] for p in LMDBS)


def _hidden_left(folder):
    return [name for name in os.listdir(folder) if name.startswith('.')]


def test_second_prepare_into_one_output_is_refused_naming_the_first(tmp_path):
    reference, _, _ = _prepare_world(tmp_path)
    pid, status, err, second, second_err = second_while_first_holds(
        [PREPARE_SCRIPT, *PREPARE], [PREPARE_SCRIPT, *PREPARE, '--overwrite'], tmp_path,
        str(tmp_path / 'out' / LOCK_NAME))
    assert second == 2 and refused_in_one_line(second_err, 'out', f'in use by process {pid}'), second_err
    assert status == 0, err
    assert _same_lmdbs(tmp_path / 'out', reference) and _hidden_left(tmp_path / 'out') == []


@pytest.mark.parametrize('overwrite', [False, True], ids=['new-output', 'both-overwrite'])
def test_two_prepares_started_together_leave_one_complete_output(tmp_path, overwrite):
    reference, _, _ = _prepare_world(tmp_path)
    argv = [PREPARE_SCRIPT, *PREPARE] + (['--overwrite'] if overwrite else [])
    if overwrite:  # replacing an earlier output
        shutil.copytree(tmp_path / 'ref' / 'out', tmp_path / 'out')
    results = together(argv, argv, tmp_path)
    for pid, status, err in results:
        other = [p for p, _, _ in results if p != pid][0]
        assert status == 0 or (status == 2 and (refused_in_one_line(err, f'in use by process {other}')
                                                or not overwrite and refused_in_one_line(err, 'output exists'))), err
    if not overwrite:  # one made it, the other found it busy or made
        assert sorted(status for _, status, _ in results) == [0, 2]
    assert _same_lmdbs(tmp_path / 'out', reference) and _hidden_left(tmp_path / 'out') == []


def test_second_synthetic_into_one_output_is_refused_naming_the_first(tmp_path):
    _reference(tmp_path, synthetic_cli.main, SYNTHETIC[:1] + ['ref'] + SYNTHETIC[2:])
    pid, status, err, second, second_err = second_while_first_holds(
        [SYNTHETIC_SCRIPT, *SYNTHETIC], [SYNTHETIC_SCRIPT, *SYNTHETIC, '--seed', '1'], tmp_path,
        str(tmp_path / f'.syn{LOCK_NAME}'))
    assert second == 2 and refused_in_one_line(second_err, 'syn', f'in use by process {pid}'), second_err
    assert status == 0, err
    assert tree(tmp_path / 'syn') == tree(tmp_path / 'ref') and _hidden_left(tmp_path) == []


def test_two_synthetic_runs_started_together_never_mix_their_outputs(tmp_path):
    _reference(tmp_path, synthetic_cli.main, SYNTHETIC[:1] + ['ref0'] + SYNTHETIC[2:])
    _reference(tmp_path, synthetic_cli.main, SYNTHETIC[:1] + ['ref1'] + SYNTHETIC[2:] + ['--seed', '1'])
    results = together([SYNTHETIC_SCRIPT, *SYNTHETIC], [SYNTHETIC_SCRIPT, *SYNTHETIC, '--seed', '1'], tmp_path)
    for pid, status, err in results:
        other = [p for p, _, _ in results if p != pid][0]
        assert status == 0 or (status == 2 and (refused_in_one_line(err, f'in use by process {other}')
                                                or refused_in_one_line(err, 'syn exists'))), err
    assert sorted(status for _, status, _ in results) == [0, 2]
    assert tree(tmp_path / 'syn') in (tree(tmp_path / 'ref0'), tree(tmp_path / 'ref1'))
    assert _hidden_left(tmp_path) == []
