"""Bad input, leaderboard, compare and plot_curves: test sets, models, outputs.

The check, the world and the catalogue: bad_input_harness.py and conftest.py.
"""
import pytest
from bad_input_harness import NO_CUDA, assert_refused_cleanly, case_ids
from tiny_models import TINY_SPEC

CASES = [
    # scripts/leaderboard.py
    ('leaderboard-missing-data', 'leaderboard', ['--data', 'nowhere'], 2, ['nowhere', 'no such file']),
    ('leaderboard-data-without-pairs', 'leaderboard', ['--data', 'imgs'], 2, ['imgs', 'unknown dataset layout']),
    ('leaderboard-unpaired-images', 'leaderboard', ['--data', 'unpaired'], 2, ['unpaired', 'without a partner']),
    ('leaderboard-text-checkpoint', 'leaderboard', ['--data', 'data/val', '--model', f'{TINY_SPEC}@text.pth'], 2,
     ['text.pth']),
    ('leaderboard-other-arch', 'leaderboard', ['--data', 'data/val', '--model', f'{TINY_SPEC}@other_arch.pth'], 2,
     ['other_arch.pth', 'does not fit']),
    ('leaderboard-unknown-arch', 'leaderboard', ['--data', 'data/val', '--model', 'NoSuchArch@tiny.pth'], 2,
     ['NoSuchArch']),
    ('leaderboard-missing-checkpoint', 'leaderboard', ['--data', 'data/val', '--model', f'{TINY_SPEC}@gone.pth'], 2,
     ['gone.pth', 'not found']),
    ('leaderboard-tile-zero', 'leaderboard', ['--data', 'data/val', '--tile', '0'], 2, ['--tile']),
    ('leaderboard-tile-tiny', 'leaderboard', ['--data', 'data/val', '--tile', '8'], 2, ['--tile', 'at least 16']),
    ('leaderboard-out-is-a-file', 'leaderboard', ['--data', 'data/val', '--out', 'notes.txt'], 2,
     ['--out', 'notes.txt']),
    ('leaderboard-device-banana', 'leaderboard', ['--data', 'data/val', '--device', 'banana'], 2, ['--device']),
    ('leaderboard-precision', 'leaderboard', ['--data', 'data/val', '--precision', 'fp8'], 2, ['--precision']),
    ('leaderboard-onnx-text', 'leaderboard', ['--data', 'data/val', '--model', 'text.onnx'], 2,
     ['text.onnx', 'not a valid ONNX model']),
    ('leaderboard-onnx-empty', 'leaderboard', ['--data', 'data/val', '--model', 'empty.onnx'], 2,
     ['empty.onnx', 'not a valid ONNX model']),
    ('leaderboard-onnx-missing', 'leaderboard', ['--data', 'data/val', '--model', 'gone.onnx'], 2,
     ['gone.onnx', 'not found']),
    ('leaderboard-onnx-two-inputs', 'leaderboard', ['--data', 'data/val', '--model', 'two_inputs.onnx'], 2,
     ['two_inputs.onnx', 'expected one float32']),
    ('leaderboard-runtime-with-precision', 'leaderboard', ['--data', 'data/val', '--model', f'{TINY_SPEC}@tiny.pth',
                                                           '--runtime', 'onnxruntime', '--precision', 'bf16'], 2,
     ['--runtime onnxruntime', 'float32']),
    ('leaderboard-runtime-unknown', 'leaderboard', ['--data', 'data/val', '--runtime', 'tvm'], 2, ['--runtime']),
    # scripts/compare.py
    ('compare-no-model', 'compare', ['--data', 'data/val', '--out', 'figs'], 2, ['--model']),
    ('compare-unknown-key', 'compare', ['--data', 'data/val', '--model', f'{TINY_SPEC}@tiny.pth', '--key', 'nope',
                                        '--out', 'figs'], 2, ['nope', 'no pair']),
    ('compare-per-image-not-a-csv', 'compare', ['--data', 'data/val', '--model', f'{TINY_SPEC}@tiny.pth',
                                                '--per-image', 'per_image_bad.csv', '--out', 'figs'], 2,
     ['per_image_bad.csv', 'per_image.csv']),
    ('compare-per-image-missing', 'compare', ['--data', 'data/val', '--model', f'{TINY_SPEC}@tiny.pth', '--per-image',
                                              'gone.csv', '--out', 'figs'], 2, ['gone.csv']),
    ('compare-top-zero', 'compare', ['--data', 'data/val', '--model', f'{TINY_SPEC}@tiny.pth', '--top', '0', '--out',
                                     'figs'], 2, ['--top']),
    ('compare-out-is-a-file', 'compare', ['--data', 'data/val', '--model', f'{TINY_SPEC}@tiny.pth', '--out',
                                          'notes.txt'], 2, ['--out', 'notes.txt']),
    ('compare-device', 'compare', ['--data', 'data/val', '--model', f'{TINY_SPEC}@tiny.pth', '--device', NO_CUDA,
                                   '--out', 'figs'], 2, ['--device']),
    # scripts/plot_curves.py
    ('plot-out-is-a-folder', 'plot_curves', ['experiments/tiny', '--out', 'plots/'], 2, ['--out', 'folder']),
    ('plot-out-not-png', 'plot_curves', ['experiments/tiny', '--out', 'curves.jpg'], 2, ['--out', '.png']),
    ('plot-missing-experiment', 'plot_curves', ['experiments/gone', '--out', 'c.png'], 2, ['experiments/gone']),
    ('plot-folder-without-logs', 'plot_curves', ['experiments/empty', '--out', 'c.png'], 2,
     ['experiments/empty', 'no train_*.log']),
    ('plot-width-zero', 'plot_curves', ['experiments/tiny', '--out', 'c.png', '--width', '0'], 2, ['--width']),
]


@pytest.mark.parametrize('case', CASES, ids=case_ids(CASES))
def test_bad_input_is_refused_cleanly(case, world, capsys, monkeypatch):
    assert_refused_cleanly(case, world, capsys, monkeypatch)
