"""Bad input, prepare_gopro and make_synthetic_gopro: inputs, crops, outputs, archives.

The check, the world and the catalogue: bad_input_harness.py and conftest.py.
"""
import pytest
from bad_input_harness import assert_refused_cleanly, case_ids

CASES = [
    # scripts/prepare_gopro.py
    ('prepare-missing-input', 'prepare_gopro', ['--input', 'nowhere'], 2, ['nowhere', 'no such dataset']),
    ('prepare-input-not-a-zip', 'prepare_gopro', ['--input', 'notes.txt'], 2, ['notes.txt', 'not a zip']),
    ('prepare-unknown-layout', 'prepare_gopro', ['--input', 'imgs', '--no-progress'], 2,
     ['imgs', 'unknown dataset layout']),
    ('prepare-images-smaller-than-crop', 'prepare_gopro', ['--input', 'small', '--crop-size', '32', '--no-progress'],
     2, ['small', 'smaller than the crop size 32']),
    ('prepare-truncated-png', 'prepare_gopro', ['--input', 'truncated', '--crop-size', '32', '--no-progress'], 2,
     ['000001.png', 'truncated']),
    ('prepare-zip-slip', 'prepare_gopro', ['--input', 'slip.zip', '--no-progress'], 2, ['slip.zip', 'refusing']),
    ('prepare-negative-crop', 'prepare_gopro', ['--input', 'syn', '--crop-size', '-1'], 2, ['--crop-size']),
    ('prepare-zero-step', 'prepare_gopro', ['--input', 'syn', '--step', '0'], 2, ['--step']),
    ('prepare-negative-workers', 'prepare_gopro', ['--input', 'syn', '--workers', '-2'], 2, ['--workers']),
    ('prepare-compress-level', 'prepare_gopro', ['--input', 'syn', '--compress-level', '12'], 2,
     ['--compress-level']),
    ('prepare-unknown-split', 'prepare_gopro', ['--input', 'syn', '--splits', 'val'], 2, ['--splits']),
    ('prepare-output-is-a-file', 'prepare_gopro', ['--input', 'syn', '--output', 'notes.txt'], 2,
     ['notes.txt', 'not a folder']),
    ('prepare-output-exists', 'prepare_gopro', ['--input', 'syn', '--crop-size', '32', '--step', '16',
                                                '--no-progress'], 2, ['output exists', '--overwrite']),
    ('prepare-finish-the-rest', 'prepare_gopro', ['--input', 'half', '--crop-size', '32', '--step', '16',
                                                  '--no-progress'], 2, ['train is already converted', '--splits test']),
    ('prepare-download-not-http', 'prepare_gopro', ['--input', 'dl.zip', '--download', 'file:///etc/passwd'], 2,
     ['--download', 'http']),
    # scripts/make_synthetic_gopro.py
    ('synthetic-overwrite-foreign-folder', 'make_synthetic_gopro',
     ['--output', 'realdata', '--overwrite', '--train', '1', '--test', '1', '--size', '16'], 2,
     ['realdata', 'refusing to replace']),
    ('synthetic-exists', 'make_synthetic_gopro', ['--output', 'syn', '--train', '1', '--test', '1'], 2,
     ['syn', '--overwrite']),
    ('synthetic-output-is-a-file', 'make_synthetic_gopro', ['--output', 'notes.txt'], 2, ['notes.txt', 'not a folder']),
    ('synthetic-output-under-a-file', 'make_synthetic_gopro', ['--output', 'notes.txt/sub'], 2,
     ['notes.txt', 'is a file']),
    ('synthetic-tiny-size', 'make_synthetic_gopro', ['--output', 'new', '--size', '4x4'], 2, ['--size']),
    ('synthetic-size-not-hxw', 'make_synthetic_gopro', ['--output', 'new', '--size', '40by56'], 2, ['--size']),
    ('synthetic-negative-count', 'make_synthetic_gopro', ['--output', 'new', '--train', '-1'], 2, ['--train']),
    ('synthetic-no-pairs', 'make_synthetic_gopro', ['--output', 'new', '--train', '0', '--test', '0'], 2,
     ['positive number of pairs']),
    ('synthetic-reversed-blur-range', 'make_synthetic_gopro', ['--output', 'new', '--blur-px', '8,2'], 2,
     ['--blur-px']),
    ('synthetic-negative-rotation', 'make_synthetic_gopro', ['--output', 'new', '--max-rotation', '-1', '--train', '1',
                                                             '--test', '1', '--no-progress'], 2, ['--max-rotation']),
    ('synthetic-nan-rotation', 'make_synthetic_gopro', ['--output', 'new', '--max-rotation', 'nan'], 2,
     ['--max-rotation', 'nan']),
    ('synthetic-infinite-blur', 'make_synthetic_gopro', ['--output', 'new', '--blur-px', '10,inf'], 2,
     ['--blur-px', 'inf']),
]


@pytest.mark.parametrize('case', CASES, ids=case_ids(CASES))
def test_bad_input_is_refused_cleanly(case, world, capsys, monkeypatch):
    assert_refused_cleanly(case, world, capsys, monkeypatch)
