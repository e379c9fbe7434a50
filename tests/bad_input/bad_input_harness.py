"""The bad-input harness shared by every command family: the commands, the world they see, the check, the report.

Each case runs a command's real ``main(argv)`` in this process from the world folder and asserts the exit status,
that the one line on stderr names the file or key, that no traceback was printed, and that no file or folder under
the test's root (the world the commands see plus a folder beside it) was created, changed, renamed or removed.
The family modules (test_bad_input_<family>.py) hold the case tables; conftest.py builds the world once and writes
the catalogue (``BAD_INPUT_REPORT=docs/reliability.md pytest tests/bad_input``).
"""
import importlib.util
import os
import sys
import zipfile

import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata
from tiny_models import tiny_checkpoint
from training_utils import make_paired_folders, tiny_options, write_options

import basicsr_nafnet.test as test_entry
import basicsr_nafnet.train as train_entry
from basicsr_nafnet import demo
from basicsr_nafnet.data.prepare import prepare_gopro
from basicsr_nafnet.data.synthetic import make_synthetic_gopro
from basicsr_nafnet.inference.runtimes import deploy_packages_missing

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = sys.executable
DEPLOY_MISSING = deploy_packages_missing()
NO_CUDA = 'cuda' if not torch.cuda.is_available() else 'cuda:99'
# test_bad_input_<family>.py each
FAMILIES = ('training', 'data', 'inference', 'evaluation', 'bench', 'lmdb', 'options')


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

# the catalogue's row order (the order the cases were written in, before the table was split per family)
REPORT_ORDER = ('deblur', 'prepare_gopro', 'make_synthetic_gopro', 'leaderboard', 'export', 'compare', 'plot_curves',
                'gpu_check', 'train', 'test', 'demo')


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


def build_world(top):
    """What the commands see (``top/world``, the current directory), plus ``top/outside`` that nothing may touch."""
    TEST_ROOTS.append(str(top))
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

    return found


# ------------------------------------------------------------------------------------------------ the check

# (id, command, argv, expected exit status, texts the one stderr line must hold) in each family's CASES; '{outside}'
# is replaced by the absolute path of the folder beside the world.
REPORT = []  # one row per case run, for the catalogue
# everything from this line of docs/reliability.md on is written by hand or by other tests, and kept
KEPT_MARKER = '<!-- below: kept when the catalogue is regenerated -->'
TEST_ROOTS = []  # the worlds' top folders, hidden in the catalogue's messages
# cases that reach onnx/onnxruntime/openvino (pip install -e .[deploy]); without them the message is the missing
# package's, tested in tests/inference/test_onnx.py
DEPLOY_CASES = {
    'deblur-onnx-random-bytes', 'deblur-onnx-is-a-checkpoint', 'deblur-onnx-with-compile',
    'deblur-runtime-torch-for-onnx', 'leaderboard-onnx-text', 'leaderboard-onnx-empty', 'leaderboard-onnx-two-inputs',
    'export-opset-too-old', 'export-no-weights', 'export-text-checkpoint', 'export-unknown-arch', 'export-onnx-as-model'
}


def case_ids(cases):
    return [c[0] for c in cases]


def _run_in_process(command, argv, capsys):
    status = COMMANDS[command](argv)
    captured = capsys.readouterr()
    return status, captured.err


def assert_refused_cleanly(case, world, capsys, monkeypatch):
    """Run one case in this process from the world folder; assert one clear line, its exit status, nothing touched."""
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
    REPORT.append((name, command, argv, status, lines[-1] if lines else '', 'Traceback' in err, changed))
    assert 'Traceback' not in err
    assert status == expected_status, err
    assert lines, 'no message on stderr'
    message = lines[-1]
    assert 'error' in message
    for text in texts:
        assert text in message, f'{text!r} not in {message!r}'
    assert not changed, f'files changed: {changed[:6]}'
    assert not (world['root'] / 'pwned').exists()


# ------------------------------------------------------------------------------------------------ the report


def write_report(target):
    """The catalogue of every case run, in REPORT_ORDER (the order within a family kept), written atomically."""
    if not REPORT:
        return
    from basicsr_nafnet.fileio import atomic_write

    report = sorted(REPORT, key=lambda r: REPORT_ORDER.index(r[1]))  # stable: a family's own order is kept
    clean = sum(1 for r in report if not r[5] and r[3] == 2 and 'error' in r[4])
    tracebacks = sum(1 for r in report if r[5])
    touched = sum(1 for r in report if r[6])
    rows = ['| case | command | exit | message |', '|---|---|---:|---|']
    for name, command, argv, status, message, _, _ in report:
        shown = message.replace('|', '\\|')
        for top in TEST_ROOTS:
            shown = shown.replace(os.path.join(top, 'world') + os.sep, '').replace(top, '<test root>')
        rows.append(f'| {name} | `{COMMAND_FILES[command]}` | {status} | {shown[:220]} |')
    text = [
        '# Reliability: bad input, one clear line',
        '',
        'Generated by `BAD_INPUT_REPORT=docs/reliability.md .venv/bin/python -m pytest tests/bad_input` '
        '(every row is a case of that test, run through the command\'s real `main(argv)` from the test\'s '
        'world folder; messages are cut at 220 characters here). The test asserts for every row: this exit '
        'status, one line on stderr naming the file or key, no traceback, and no file or folder created, '
        'changed, renamed or removed anywhere under the test root (the world and a folder beside it). The same '
        'folder also runs one case per command through a fresh interpreter, and Ctrl-C during a conversion and '
        'during training (exit 130, one line, finished work kept, nothing half-written left).',
        '',
        f'- cases: {len(report)}',
        f'- clean errors (one line naming the file or key, exit 2): {clean}',
        f'- tracebacks: {tracebacks}',
        f'- files created, changed, renamed or removed (anywhere under the test root): {touched}',
        '',
        'Seeded mutations of whole option files through `train.py` and `test.py` (keys deleted, renamed or moved, '
        'wrong types, huge/NaN numbers, damaged YAML, alias bombs, other names and arguments), drawn from every '
        'shipped option file on tiny image folders and tiny LMDBs: '
        '[reliability-fuzz.md](reliability-fuzz.md); 100 of them run in every test run '
        '(tests/bad_input/test_option_fuzz.py). Keys nobody reads are warned about (one line each, naming the '
        'nearest known key), not refused; no shipped option file draws one (tests/engine/test_option_faults.py).',
        '',
        *rows,
        '',
        '## kill -9 and two at once: conversions and deblur',
        '',
        '`prepare_gopro.py`, `make_synthetic_gopro.py` and `deblur.py` killed (SIGKILL) at 20 seeded moments each, '
        'the invariants checked after every kill and the same command rerun to the uninterrupted bytes, and two of '
        'each into one output at once: the counts and the command that measures them are in '
        '[reliability-kill-data.md](reliability-kill-data.md) (tests/data/test_kill_conversions.py, '
        'tests/inference/test_kill_deblur.py; 3 points per command in every test run).',
        '',
    ]
    # the sections other tests report into (kill -9, two at once) follow the catalogue and are kept
    if os.path.isfile(target):
        with open(target, encoding='utf-8') as f:
            old = f.read()
        if KEPT_MARKER in old:
            text.append(old[old.index(KEPT_MARKER):].rstrip('\n') + '\n')
    atomic_write(target, '\n'.join(text))
