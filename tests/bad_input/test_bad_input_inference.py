"""Bad input, deblur and export: model specs, checkpoints, ONNX files, devices, tiles, outputs.

The check, the world and the catalogue: bad_input_harness.py and conftest.py.
"""
import pytest
from bad_input_harness import NO_CUDA, assert_refused_cleanly, case_ids
from tiny_models import TINY_SPEC

D = ['--model', f'{TINY_SPEC}@tiny.pth']
CASES = [
    # scripts/deblur.py
    ('deblur-missing-input', 'deblur', ['-i', 'nothing.png', '-o', 'out'] + D, 2, ['nothing.png', 'no such file']),
    ('deblur-text-checkpoint', 'deblur', ['-i', 'imgs', '-o', 'out', '--model', 'NAFNet@text.pth'], 2,
     ['text.pth', 'not a readable PyTorch checkpoint']),
    ('deblur-empty-checkpoint', 'deblur', ['-i', 'imgs', '-o', 'out', '--model', 'NAFNet@empty.pth'], 2,
     ['empty.pth', 'not a readable']),
    ('deblur-code-in-checkpoint', 'deblur', ['-i', 'imgs', '-o', 'out', '--model', f'{TINY_SPEC}@evil.pth'], 2,
     ['evil.pth', 'refused']),
    ('deblur-other-arch-checkpoint', 'deblur', ['-i', 'imgs', '-o', 'out', '--model', f'{TINY_SPEC}@other_arch.pth'],
     2, ['other_arch.pth', 'does not fit NAFNet']),
    ('deblur-unknown-arch', 'deblur', ['-i', 'imgs', '-o', 'out', '--model', 'NoSuchArch@tiny.pth'], 2,
     ['NoSuchArch', 'neither an option file']),
    ('deblur-no-weights', 'deblur', ['-i', 'imgs', '-o', 'out', '--model', TINY_SPEC], 2, ['needs trained weights']),
    ('deblur-bad-arch-argument', 'deblur', ['-i', 'imgs', '-o', 'out', '--model', 'NAFNet:width@tiny.pth'], 2,
     ['width', 'not name=value']),
    ('deblur-wrong-arch-argument', 'deblur', ['-i', 'imgs', '-o', 'out', '--model', 'NAFNet:widht=8@tiny.pth'], 2,
     ['widht']),
    ('deblur-missing-option-file', 'deblur', ['-i', 'imgs', '-o', 'out', '--model', 'nope.yml'], 2,
     ['nope.yml', 'not found']),
    ('deblur-option-file-with-code', 'deblur', ['-i', 'imgs', '-o', 'out', '--model', 'tag.yml'], 2,
     ['tag.yml', 'refused to build a Python object']),
    ('deblur-device-banana', 'deblur', ['-i', 'imgs', '-o', 'out', '--device', 'banana'] + D, 2,
     ['--device', 'banana']),
    ('deblur-device-without-cuda', 'deblur', ['-i', 'imgs', '-o', 'out', '--device', NO_CUDA] + D, 2, ['--device']),
    ('deblur-tile-zero', 'deblur', ['-i', 'imgs', '-o', 'out', '--tile', '0'] + D, 2, ['--tile']),
    # a 3 px tile ran the network 16,384 times per 256x256 image (minutes, looking hung)
    ('deblur-tile-tiny', 'deblur', ['-i', 'imgs', '-o', 'out', '--tile', '3'] + D, 2, ['--tile', 'at least 16']),
    ('deblur-tile-not-a-number', 'deblur', ['-i', 'imgs', '-o', 'out', '--tile', 'big'] + D, 2, ['--tile', 'big']),
    ('deblur-negative-overlap', 'deblur', ['-i', 'imgs', '-o', 'out', '--tile-overlap', '-1'] + D, 2,
     ['--tile-overlap']),
    ('deblur-unknown-format', 'deblur', ['-i', 'imgs', '-o', 'out', '--ext', 'xyz'] + D, 2, ['--ext', 'xyz']),
    ('deblur-suffix-escapes', 'deblur', ['-i', 'imgs', '-o', 'out', '--suffix', '_x/../../../escaped'] + D, 2,
     ['--suffix']),
    ('deblur-output-is-a-file', 'deblur', ['-i', 'imgs', '-o', 'notes.txt'] + D, 2, ['notes.txt', 'not a folder']),
    ('deblur-output-overwrites-input', 'deblur', ['-i', 'imgs', '-o', 'imgs'] + D, 2, ['would overwrite an input']),
    ('deblur-two-inputs-one-output', 'deblur', ['-i', 'dup', '-o', 'out'] + D, 2, ['would both be written']),
    ('deblur-no-images', 'deblur', ['-i', 'noimages', '-o', 'out'] + D, 2, ['no images', 'noimages']),
    ('deblur-unknown-flag', 'deblur', ['-i', 'imgs', '-o', 'out', '--bogus'] + D, 2, ['--bogus']),
    ('deblur-onnx-missing', 'deblur', ['-i', 'imgs', '-o', 'out', '--model', 'gone.onnx'], 2,
     ['gone.onnx', 'not found']),
    ('deblur-onnx-random-bytes', 'deblur', ['-i', 'imgs', '-o', 'out', '--model', 'random.onnx'], 2,
     ['random.onnx', 'not a valid ONNX model']),
    ('deblur-onnx-is-a-checkpoint', 'deblur', ['-i', 'imgs', '-o', 'out', '--model', 'checkpoint.onnx'], 2,
     ['checkpoint.onnx', 'not a valid ONNX model']),
    ('deblur-runtime-unknown', 'deblur', ['-i', 'imgs', '-o', 'out', '--runtime', 'tensorrt'] + D, 2, ['--runtime']),
    ('deblur-runtime-with-bf16', 'deblur', ['-i', 'imgs', '-o', 'out', '--runtime', 'openvino', '--bf16'] + D, 2,
     ['--runtime openvino', 'float32']),
    ('deblur-onnx-with-compile', 'deblur', ['-i', 'imgs', '-o', 'out', '--model', 'identity.onnx', '--compile'], 2,
     ['identity.onnx', '--compile']),
    ('deblur-runtime-torch-for-onnx', 'deblur', ['-i', 'imgs', '-o', 'out', '--model', 'identity.onnx', '--runtime',
                                                 'torch'], 2, ['--runtime torch', 'identity.onnx']),
    # scripts/export.py
    ('export-no-out', 'export', ['--model', f'{TINY_SPEC}@tiny.pth'], 2, ['--out']),
    ('export-out-not-onnx', 'export', ['--model', f'{TINY_SPEC}@tiny.pth', '--out', 'net.pt'], 2, ['--out', '.onnx']),
    ('export-out-is-a-folder', 'export', ['--model', f'{TINY_SPEC}@tiny.pth', '--out', 'imgs'], 2,
     ['--out', 'folder']),
    ('export-out-under-a-file', 'export', ['--model', f'{TINY_SPEC}@tiny.pth', '--out', 'notes.txt/net.onnx'], 2,
     ['--out', 'notes.txt']),
    ('export-static-not-hxw', 'export', ['--model', f'{TINY_SPEC}@tiny.pth', '--out', 'n.onnx', '--static', '9by9'],
     2, ['--static']),
    ('export-static-too-small', 'export', ['--model', f'{TINY_SPEC}@tiny.pth', '--out', 'n.onnx', '--static', '1x8'],
     2, ['--static']),
    ('export-opset-too-old', 'export', ['--model', f'{TINY_SPEC}@tiny.pth', '--out', 'n.onnx', '--opset', '9'], 2,
     ['--opset 9', '18']),
    ('export-no-weights', 'export', ['--model', TINY_SPEC, '--out', 'n.onnx'], 2, ['needs trained weights']),
    ('export-text-checkpoint', 'export', ['--model', 'NAFNet@text.pth', '--out', 'n.onnx'], 2, ['text.pth']),
    ('export-unknown-arch', 'export', ['--model', 'NoSuchArch@tiny.pth', '--out', 'n.onnx'], 2, ['NoSuchArch']),
    ('export-onnx-as-model', 'export', ['--model', 'identity.onnx', '--out', 'n.onnx'], 2,
     ['identity.onnx', 'already an ONNX file']),
]


@pytest.mark.parametrize('case', CASES, ids=case_ids(CASES))
def test_bad_input_is_refused_cleanly(case, world, capsys, monkeypatch):
    assert_refused_cleanly(case, world, capsys, monkeypatch)
