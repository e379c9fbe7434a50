"""Every command fails safely on bad input: one clear line, exit 2, no traceback, nothing touched.

One table of cases run through the real command-line entry points (``main(argv)`` in this process, a
few through a fresh interpreter as a user runs them). Each case asserts the exit status, that the one
line on stderr names the file or key, that no traceback was printed, and that no file or folder under
the test's root (the world the commands see plus a folder beside it) was created, changed, renamed
or removed.

``BAD_INPUT_REPORT=docs/reliability.md pytest tests/test_bad_input.py`` also writes the catalogue.
"""
import importlib.util
import os
import signal
import subprocess
import sys
import time
import zipfile

import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata
from test_leaderboard import TINY_SPEC, tiny_checkpoint
from training_utils import make_paired_folders, tiny_options, write_options

import basicsr_nafnet.test as test_entry
import basicsr_nafnet.train as train_entry
from basicsr_nafnet import demo
from basicsr_nafnet.data.prepare import prepare_gopro
from basicsr_nafnet.data.synthetic import make_synthetic_gopro
from basicsr_nafnet.inference.runtimes import deploy_packages_missing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = sys.executable
DEPLOY_MISSING = deploy_packages_missing()


def _load_script(name):
    spec = importlib.util.spec_from_file_location(f'{name}_cli', os.path.join(ROOT, 'scripts', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCRIPTS = {
    name: _load_script(name)
    for name in ('deblur', 'prepare_gopro', 'make_synthetic_gopro', 'leaderboard', 'compare', 'plot_curves',
                 'gpu_check', 'export')
}
COMMANDS = {
    'deblur': SCRIPTS['deblur'].main,
    'prepare_gopro': SCRIPTS['prepare_gopro'].main,
    'make_synthetic_gopro': SCRIPTS['make_synthetic_gopro'].main,
    'leaderboard': SCRIPTS['leaderboard'].main,
    'compare': SCRIPTS['compare'].main,
    'plot_curves': SCRIPTS['plot_curves'].main,
    'gpu_check': SCRIPTS['gpu_check'].main,
    'export': SCRIPTS['export'].main,
    'train': train_entry.main,
    'test': test_entry.main,
    'demo': demo.main,
}
COMMAND_FILES = {
    'deblur': 'scripts/deblur.py', 'prepare_gopro': 'scripts/prepare_gopro.py',
    'make_synthetic_gopro': 'scripts/make_synthetic_gopro.py', 'leaderboard': 'scripts/leaderboard.py',
    'compare': 'scripts/compare.py', 'plot_curves': 'scripts/plot_curves.py', 'gpu_check': 'scripts/gpu_check.py',
    'export': 'scripts/export.py',
    'train': 'basicsr_nafnet/train.py',
    'test': 'basicsr_nafnet/test.py', 'demo': 'basicsr_nafnet/demo.py'
}


class Evil:
    """Unpickling this runs a command: a checkpoint made by an attacker."""

    def __reduce__(self):
        return (os.system, ('touch pwned',))


# ------------------------------------------------------------------------------------------------ the world


def _image(h=40, w=48, offset=0):
    return np.ascontiguousarray(skdata.astronaut()[offset:offset + h, offset:offset + w, ::-1])


def _tiny_yaml(path, data, **overrides):
    opt = tiny_options(data, total_iter=2, **overrides)
    return write_options(opt, path)


def _test_yaml(path, data, checkpoint, **changes):
    opt = tiny_options(data, name='tiny-test')
    opt.pop('train')
    opt['datasets'] = {'test': dict(opt['datasets']['val'], name='tiny-test')}
    opt['path']['pretrain_network_g'] = checkpoint
    opt['val'].pop('val_freq')
    for dotted, value in changes.items():
        node = opt
        *parents, last = dotted.split('__')
        for key in parents:
            node = node[key]
        node[last] = value
    return write_options(opt, path)


def _onnx_graph(path, inputs):
    """A valid ONNX model: the identity on one N x 3 x H x W float input, or the sum of two."""
    from onnx import TensorProto, checker, helper, save
    names = ['input', 'other'][:inputs]
    values = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ['batch', 3, 'height', 'width']) for n in names]
    node = helper.make_node('Identity' if inputs == 1 else 'Add', names, ['output'])
    graph = helper.make_graph([node], 'g', values, [helper.make_tensor_value_info('output', TensorProto.FLOAT,
                                                                                  ['batch', 3, 'height', 'width'])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 18)])
    model.ir_version = 8
    checker.check_model(model)
    save(model, path)


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    """What the commands see (the current directory), plus ``../outside`` that nothing may touch."""
    top = tmp_path_factory.mktemp('bad_input')
    _TEST_ROOT.append(str(top))
    root = top / 'world'
    root.mkdir()
    outside = top / 'outside'
    outside.mkdir()
    (outside / 'keep.txt').write_text('must stay')
    cwd = os.getcwd()
    os.chdir(root)
    try:
        os.makedirs('imgs')
        cv2.imwrite('imgs/a.png', _image())
        cv2.imwrite('imgs/b.jpg', _image(offset=30))
        os.makedirs('dup')
        cv2.imwrite('dup/a.png', _image())
        cv2.imwrite('dup/a.jpg', _image())
        os.makedirs('noimages')
        open('noimages/readme.txt', 'w').write('no pictures here')
        open('notes.txt', 'w').write('hello')
        open('text.pth', 'w').write('hello')
        open('empty.pth', 'wb').close()
        torch.save({'params': Evil()}, 'evil.pth')
        tiny_checkpoint('tiny.pth')
        torch.save({'params': torch.nn.Conv2d(3, 3, 3).state_dict()}, 'other_arch.pth')
        data = make_paired_folders('data', n_train=4, n_val=2)
        os.makedirs('unpaired/input')
        os.makedirs('unpaired/target')
        cv2.imwrite('unpaired/input/x.png', _image())
        _tiny_yaml('ok.yml', data)
        _test_yaml('ok_test.yml', data, 'tiny.pth')
        open('tag.yml', 'w').write("name: !!python/object/apply:os.system ['touch pwned']\n")
        open('broken.yml', 'w').write('name: [unclosed\n')
        open('list.yml', 'w').write('- a\n- b\n')
        # a synthetic GoPro-like dataset, converted; one converted for its train split only
        make_synthetic_gopro('syn', train=2, test=1, size=(40, 56), progress=False)
        prepare_gopro('syn', crop_size=32, step=16, workers=0, progress=False)
        make_synthetic_gopro('half', train=2, test=1, size=(40, 56), progress=False)
        prepare_gopro('half', crop_size=32, step=16, workers=0, splits=['train'], progress=False)
        make_synthetic_gopro('small', train=2, test=1, size=(40, 56), progress=False)
        cv2.imwrite('small/train/SYNTH_train_000/blur/000001.png', _image(20, 20))  # smaller than the crop
        cv2.imwrite('small/train/SYNTH_train_000/sharp/000001.png', _image(20, 20))
        make_synthetic_gopro('truncated', train=1, test=1, size=(40, 56), progress=False)
        png = 'truncated/train/SYNTH_train_000/blur/000001.png'
        open(png, 'r+b').truncate(os.path.getsize(png) - 20)
        with zipfile.ZipFile('slip.zip', 'w') as z:
            z.writestr('../escape/train/blur/x.png', cv2.imencode('.png', _image())[1].tobytes())
        os.makedirs('realdata/train')
        open('realdata/train/precious.txt', 'w').write('a dataset the user made')
        # a finished run whose folder must not be renamed by a failing command
        os.makedirs('experiments/tiny/models')
        open('experiments/tiny/models/keep.txt', 'w').write('earlier run')
        open('experiments/tiny/train_tiny_20260101_000000.log', 'w').write(
            '[tiny..][epoch:  0, iter:       2, lr:(1.000e-03,)] [eta: 0:00:00] l_pix: -2.0e+01\n')
        os.makedirs('experiments/empty')
        with open('per_image_bad.csv', 'w') as f:
            f.write('a,b\n1,2\n')
        # files named .onnx that are not usable networks, and two small valid graphs made by hand
        open('random.onnx', 'wb').write(np.random.default_rng(0).bytes(4096))
        open('text.onnx', 'w').write('this is not an onnx model\n')
        open('empty.onnx', 'wb').close()
        tiny_checkpoint('checkpoint.onnx')
        if not DEPLOY_MISSING:
            _onnx_graph('identity.onnx', inputs=1)
            _onnx_graph('two_inputs.onnx', inputs=2)
    finally:
        os.chdir(cwd)
    return dict(root=root, top=top, outside=outside)


def snapshot(top):
    """Every path under ``top`` with its kind, size and modification time."""
    found = {}
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            found[os.path.relpath(path, top)] = (os.path.isdir(path), st.st_size, st.st_mtime_ns)
    return found


# ------------------------------------------------------------------------------------------------ the cases
# (id, command, argv, expected exit status, texts the one stderr line must hold). '{outside}' is replaced
# by the absolute path of the folder beside the world.
NO_CUDA = 'cuda' if not torch.cuda.is_available() else 'cuda:99'
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
                                                             '--test', '1', '--no-progress'], 2, ['max_rotation']),
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
    # scripts/gpu_check.py
    ('gpu-check-output-is-a-file', 'gpu_check', ['notes.txt', '--dry-run', '--device', 'cpu'], 2,
     ['notes.txt', 'not a folder']),
    ('gpu-check-output-under-a-file', 'gpu_check', ['notes.txt/sub', '--dry-run', '--device', 'cpu'], 2,
     ['notes.txt', 'is a file']),
    ('gpu-check-on-the-cpu-without-dry-run', 'gpu_check', ['out', '--device', 'cpu'], 2, ['needs CUDA', '--dry-run']),
    ('gpu-check-unknown-step', 'gpu_check', ['out', '--dry-run', '--steps', 'bogus'], 2, ['--steps', 'bogus']),
    ('gpu-check-budget-zero', 'gpu_check', ['out', '--dry-run', '--device', 'cpu', '--budget', '0'], 2, ['--budget']),
    ('gpu-check-device-banana', 'gpu_check', ['out', '--dry-run', '--device', 'banana'], 2, ['--device', 'banana']),
    ('gpu-check-unknown-flag', 'gpu_check', ['out', '--bogus'], 2, ['--bogus']),
    # basicsr_nafnet/train.py
    ('train-missing-option-file', 'train', ['-opt', 'nope.yml'], 2, ['nope.yml', 'not found']),
    ('train-option-file-is-a-folder', 'train', ['-opt', 'imgs'], 2, ['imgs', 'folder']),
    ('train-python-tag', 'train', ['-opt', 'tag.yml'], 2, ['tag.yml', 'line 1', 'refused']),
    ('train-invalid-yaml', 'train', ['-opt', 'broken.yml'], 2, ['broken.yml', 'not valid YAML']),
    ('train-top-level-list', 'train', ['-opt', 'list.yml'], 2, ['list.yml', 'mapping']),
    ('train-total-iter-not-a-number', 'train', ['-opt', 'ok.yml', '--force_yml', 'train:total_iter=abc'], 2,
     ['train.total_iter', 'abc']),
    ('train-name-absolute', 'train', ['-opt', 'ok.yml', '--force_yml', 'name={outside}'], 2, ['name', 'single']),
    ('train-name-parent', 'train', ['-opt', 'ok.yml', '--force_yml', 'name=../outside'], 2, ['name', 'single']),
    ('train-unknown-arch', 'train', ['-opt', 'ok.yml', '--force_yml', 'network_g:type=NoSuchArch'], 2,
     ['network_g.type', 'NoSuchArch']),
    ('train-wrong-arch-argument', 'train', ['-opt', 'ok.yml', '--force_yml', 'network_g:widht=3'], 2,
     ['network_g', 'widht']),
    ('train-force-yml-without-value', 'train', ['-opt', 'ok.yml', '--force_yml', 'train:total_iter'], 2,
     ['--force_yml', 'key:sub_key=value']),
    ('train-force-yml-unknown-section', 'train', ['-opt', 'ok.yml', '--force_yml', 'nosuch:key=1'], 2,
     ['--force_yml', 'nosuch']),
    ('train-missing-dataroot', 'train', ['-opt', 'ok.yml', '--force_yml', 'datasets:train:dataroot_gt=gone'], 2,
     ['datasets.train.dataroot_gt', 'gone']),
    ('train-batch-larger-than-data', 'train', ['-opt', 'ok.yml', '--force_yml', 'datasets:train:batch_size_per_gpu=64'],
     2, ['datasets.train.batch_size_per_gpu']),
    ('train-unknown-optimizer', 'train', ['-opt', 'ok.yml', '--force_yml', 'train:optim_g:type=Turbo'], 2,
     ['train.optim_g.type', 'Turbo']),
    ('train-learning-rate-text', 'train', ['-opt', 'ok.yml', '--force_yml', 'train:optim_g:lr=fast'], 2,
     ['train.optim_g.lr']),
    ('train-unknown-scheduler', 'train', ['-opt', 'ok.yml', '--force_yml', 'train:scheduler:type=Wavy'], 2,
     ['train.scheduler.type', 'Wavy']),
    ('train-unknown-loss', 'train', ['-opt', 'ok.yml', '--force_yml', 'train:pixel_opt:type=NoLoss'], 2,
     ['train.pixel_opt.type', 'NoLoss']),
    ('train-unknown-metric', 'train', ['-opt', 'ok.yml', '--force_yml', 'val:metrics:psnr:type=nometric'], 2,
     ['val.metrics.psnr.type']),
    ('train-autocast', 'train', ['-opt', 'ok.yml', '--force_yml', 'train:autocast=fp8'], 2, ['train.autocast']),
    ('train-compile-not-a-bool', 'train', ['-opt', 'ok.yml', '--force_yml', 'train:compile=fast'], 2,
     ['train.compile', 'fast']),
    ('train-pretrain-text', 'train', ['-opt', 'ok.yml', '--force_yml', 'path:pretrain_network_g=text.pth'], 2,
     ['path.pretrain_network_g', 'text.pth']),
    ('train-resume-state-text', 'train', ['-opt', 'ok.yml', '--force_yml', 'path:resume_state=text.pth'], 2,
     ['training state', 'text.pth']),
    ('train-launcher-without-torchrun', 'train', ['-opt', 'ok.yml', '--launcher', 'pytorch'], 2,
     ['--launcher pytorch', 'torchrun']),
    ('train-slurm-without-srun', 'train', ['-opt', 'ok.yml', '--launcher', 'slurm'], 2,
     ['--launcher slurm', 'SLURM_PROCID', 'srun']),
    ('train-unknown-flag', 'train', ['-opt', 'ok.yml', '--bogus'], 2, ['--bogus']),
    ('train-unet-unknown-norm', 'train', ['-opt', 'ok.yml', '--force_yml', 'network_g:type=DeblurUNet',
                                          'network_g:norm=group'], 2, ['network_g', "unknown norm 'group'"]),
    ('train-unet-residual-not-bool', 'train', ['-opt', 'ok.yml', '--force_yml', 'network_g:type=DeblurUNet',
                                               'network_g:global_residual=maybe'], 2,
     ['network_g', 'global_residual must be true or false']),
    # basicsr_nafnet/test.py
    ('test-missing-option-file', 'test', ['-opt', 'nope.yml'], 2, ['nope.yml', 'not found']),
    ('test-text-checkpoint', 'test', ['-opt', 'ok_test.yml', '--force_yml', 'path:pretrain_network_g=text.pth'], 2,
     ['path.pretrain_network_g', 'text.pth']),
    ('test-code-in-checkpoint', 'test', ['-opt', 'ok_test.yml', '--force_yml', 'path:pretrain_network_g=evil.pth'], 2,
     ['evil.pth', 'refused']),
    ('test-other-arch-checkpoint', 'test', ['-opt', 'ok_test.yml', '--force_yml',
                                            'path:pretrain_network_g=other_arch.pth'], 2, ['other_arch.pth',
                                                                                           'does not fit']),
    ('test-no-checkpoint', 'test', ['-opt', 'ok_test.yml', '--force_yml', 'path:pretrain_network_g=null'], 2,
     ['path.pretrain_network_g', 'trained weights']),
    ('test-dataset-name-escapes', 'test', ['-opt', 'ok_test.yml', '--force_yml', 'datasets:test:name=../x'], 2,
     ['datasets.test.name']),
    ('test-suffix-escapes', 'test', ['-opt', 'ok_test.yml', '--force_yml', 'val:suffix=../x'], 2, ['val.suffix']),
    ('test-name-escapes', 'test', ['-opt', 'ok_test.yml', '--force_yml', 'name=../outside'], 2, ['name']),
    # python -m basicsr_nafnet.demo
    ('demo-zero-iterations', 'demo', ['--iters', '0'], 2, ['--iters']),
    ('demo-root-is-a-file', 'demo', ['--root', 'notes.txt'], 2, ['--root', 'notes.txt']),
    ('demo-ladder-and-all', 'demo', ['--ladder', '--all'], 2, ['--all', '--ladder']),
    ('demo-ladder-root-is-a-file', 'demo', ['--ladder', '--root', 'notes.txt'], 2, ['--root', 'notes.txt']),
]

_REPORT = []
_TEST_ROOT = []
# cases that reach onnx/onnxruntime/openvino (pip install -e .[deploy]); without them the message is the missing
# package's, tested in test_onnx.py
DEPLOY_CASES = {
    'deblur-onnx-random-bytes', 'deblur-onnx-is-a-checkpoint', 'deblur-onnx-with-compile',
    'deblur-runtime-torch-for-onnx', 'leaderboard-onnx-text', 'leaderboard-onnx-empty', 'leaderboard-onnx-two-inputs',
    'export-opset-too-old', 'export-no-weights', 'export-text-checkpoint', 'export-unknown-arch', 'export-onnx-as-model'
}


def _run_in_process(command, argv, capsys):
    status = COMMANDS[command](argv)
    captured = capsys.readouterr()
    return status, captured.err


@pytest.mark.parametrize('case', CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_cleanly(case, world, capsys, monkeypatch):
    name, command, argv, expected_status, texts = case
    if name in DEPLOY_CASES and DEPLOY_MISSING:
        pytest.skip(f'needs {DEPLOY_MISSING} (pip install -e .[deploy])')
    argv = [a.replace('{outside}', str(world['outside'])) for a in argv]
    monkeypatch.chdir(world['root'])
    before = snapshot(world['top'])
    status, err = _run_in_process(command, argv, capsys)
    after = snapshot(world['top'])
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(('WARNING', 'warnings.warn'))]
    changed = sorted(set(before.items()) ^ set(after.items()))
    _REPORT.append((name, command, argv, status, lines[-1] if lines else '', 'Traceback' in err, changed))
    assert 'Traceback' not in err
    assert status == expected_status, err
    assert lines, 'no message on stderr'
    message = lines[-1]
    assert 'error' in message
    for text in texts:
        assert text in message, f'{text!r} not in {message!r}'
    assert not changed, f'files changed: {changed[:6]}'
    assert not (world['root'] / 'pwned').exists()


def test_the_catalogue_is_large_and_covers_every_command():
    assert len(CASES) >= 60
    assert len({c[0] for c in CASES}) == len(CASES)
    assert set(COMMANDS) <= {c[1] for c in CASES}
    assert all(sum(c[1] == command for c in CASES) >= 5 for command in COMMANDS if command != 'demo')


# one case per command through a fresh interpreter, as a user types it: the entry point's own exit path
REAL_CASES = [
    ('deblur', ['-i', 'imgs', '-o', 'out', '--model', 'NAFNet@text.pth'], 'text.pth'),
    ('prepare_gopro', ['--input', 'small', '--crop-size', '32', '--no-progress'], 'smaller than the crop size'),
    ('make_synthetic_gopro', ['--output', 'realdata', '--overwrite', '--train', '1', '--test', '1'], 'realdata'),
    ('leaderboard', ['--data', 'data/val', '--model', 'NoSuchArch@tiny.pth'], 'NoSuchArch'),
    ('compare', ['--data', 'data/val', '--model', f'{TINY_SPEC}@tiny.pth', '--key', 'nope', '--out', 'figs'], 'nope'),
    ('plot_curves', ['experiments/tiny', '--out', 'plots/'], '--out'),
    ('gpu_check', ['out', '--device', 'cpu'], 'needs CUDA'),
    ('export', ['--model', f'{TINY_SPEC}@tiny.pth', '--out', 'net.pt'], '--out'),
    ('train', ['-opt', 'ok.yml', '--force_yml', 'train:total_iter=abc'], 'train.total_iter'),
    ('test', ['-opt', 'ok_test.yml', '--force_yml', 'path:pretrain_network_g=text.pth'], 'text.pth'),
]


@pytest.mark.parametrize('command,argv,text', REAL_CASES, ids=[c[0] for c in REAL_CASES])
def test_real_entry_points_print_one_line(command, argv, text, world):
    before = snapshot(world['top'])
    proc = subprocess.run([PYTHON, os.path.join(ROOT, COMMAND_FILES[command]), *argv], cwd=world['root'],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert 'Traceback' not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if 'error' in line]
    assert len(errors) == 1 and text in errors[0], proc.stderr
    assert snapshot(world['top']) == before


# ------------------------------------------------------------------------------------------------ Ctrl-C


def _start_interruptible(argv, cwd):
    """Start a command in its own process group, with Ctrl-C at its default even where this suite ignores it.

    A suite started in the background of a non-interactive shell (``cmd &``) inherits SIGINT ignored, and
    Python then installs no KeyboardInterrupt handler in its children: the command would never see Ctrl-C.
    """
    return subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _interrupt_when(proc, ready, settle=0.0, timeout=120):
    """Send Ctrl-C (SIGINT to the process group, as a terminal does) ``settle`` seconds after ``ready()``."""
    try:
        deadline = time.time() + timeout
        while not ready():
            assert proc.poll() is None, proc.communicate()
            assert time.time() < deadline, 'never got ready'
            time.sleep(0.05)
        # Python drops a KeyboardInterrupt raised inside its own at-fork handlers (logging's lock release), so
        # a Ctrl-C landing exactly while the worker pool forks is lost: wait until the pool is working
        time.sleep(settle)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        return proc.returncode, err
    finally:
        if proc.poll() is None:  # a failed test leaves no command running (it would slow the rest of the suite)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_ctrl_c_while_converting_keeps_finished_splits_and_leaves_no_partial(tmp_path):
    make_synthetic_gopro(str(tmp_path / 'big'), train=60, test=1, size=(128, 128), progress=False)
    proc = _start_interruptible([PYTHON, os.path.join(ROOT, 'scripts', 'prepare_gopro.py'), '--input', 'big',
                                 '--splits', 'test', 'train', '--crop-size', '16', '--step', '4', '--workers', '1',
                                 '--no-progress'], tmp_path)
    status, err = _interrupt_when(proc, lambda: (tmp_path / 'big' / 'train' / 'blur_crops.lmdb.partial').exists(),
                                  settle=0.5)
    assert status == 130, err
    assert 'Traceback' not in err
    assert [line for line in err.splitlines() if line.strip()][-1].startswith('interrupted: ')
    left = sorted(os.listdir(tmp_path / 'big' / 'train'))
    assert not [f for f in left if f.endswith(('.lmdb', '.partial'))], left  # the split in progress is gone
    assert sorted(os.listdir(tmp_path / 'big' / 'test')) == ['SYNTH_test_000', 'input.lmdb', 'target.lmdb']
    # the same command again says how to finish the rest
    assert SCRIPTS['prepare_gopro'].main(['--input', str(tmp_path / 'big'), '--no-progress']) == 2


def test_ctrl_c_while_training_leaves_complete_checkpoints(tmp_path):
    data = make_paired_folders(str(tmp_path / 'data'))
    opt = write_options(tiny_options(data, name='long', total_iter=100000, logger__save_checkpoint_freq=2,
                                     val__val_freq=100000), tmp_path / 'long.yml')
    proc = _start_interruptible([PYTHON, os.path.join(ROOT, 'basicsr_nafnet', 'train.py'), '-opt', opt], tmp_path)
    states = tmp_path / 'experiments' / 'long' / 'training_states'
    status, err = _interrupt_when(proc, lambda: states.is_dir() and len(os.listdir(states)) >= 2)
    assert status == 130, err
    assert 'Traceback' not in err
    assert 'continue with --auto_resume' in [line for line in err.splitlines() if line.strip()][-1]
    run = tmp_path / 'experiments' / 'long'
    assert not [p for p in run.rglob('*') if p.name.endswith('.tmp')]
    for state in states.iterdir():  # every state on disk is complete and loads
        torch.load(state, weights_only=True)


# ------------------------------------------------------------------------------------------------ the report


def teardown_module(module):
    target = os.environ.get('BAD_INPUT_REPORT')
    if not target or not _REPORT:
        return
    from basicsr_nafnet.fileio import atomic_write

    clean = sum(1 for r in _REPORT if not r[5] and r[3] == 2 and 'error' in r[4])
    tracebacks = sum(1 for r in _REPORT if r[5])
    touched = sum(1 for r in _REPORT if r[6])
    rows = ['| case | command | exit | message |', '|---|---|---:|---|']
    for name, command, argv, status, message, _, _ in _REPORT:
        shown = message.replace('|', '\\|')
        for top in _TEST_ROOT:
            shown = shown.replace(os.path.join(top, 'world') + os.sep, '').replace(top, '<test root>')
        rows.append(f'| {name} | `{COMMAND_FILES[command]}` | {status} | {shown[:220]} |')
    text = [
        '# Reliability: bad input, one clear line',
        '',
        'Generated by `BAD_INPUT_REPORT=docs/reliability.md .venv/bin/python -m pytest tests/test_bad_input.py` '
        '(every row is a case of that test, run through the command\'s real `main(argv)` from the test\'s '
        'world folder; messages are cut at 220 characters here). The test asserts for every row: this exit '
        'status, one line on stderr naming the file or key, no traceback, and no file or folder created, '
        'changed, renamed or removed anywhere under the test root (the world and a folder beside it). The same '
        'file also runs one case per command through a fresh interpreter, and Ctrl-C during a conversion and '
        'during training (exit 130, one line, finished work kept, nothing half-written left).',
        '',
        f'- cases: {len(_REPORT)}',
        f'- clean errors (one line naming the file or key, exit 2): {clean}',
        f'- tracebacks: {tracebacks}',
        f'- files created, changed, renamed or removed (anywhere under the test root): {touched}',
        '',
        *rows,
        '',
    ]
    atomic_write(target, '\n'.join(text))
