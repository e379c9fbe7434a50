"""The GoPro-like generator: determinism, held-out test photographs, the GOPRO_Large layout, blur physics."""
import hashlib
import json
import os

import cv2
import numpy as np
import pytest

from basicsr_nafnet.data.layout import find_pairs, read_image
from basicsr_nafnet.errors import UserError
from basicsr_nafnet.data.synthetic import TEST_PHOTOS, TRAIN_PHOTOS, make_synthetic_gopro


def digest_tree(folder):
    """``{relative path: sha256}`` of every file."""
    out = {}
    for base, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(base, name)
            with open(path, 'rb') as f:
                out[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return out


@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp('syn')
    make_synthetic_gopro(str(root / 'a'), train=24, test=6, size=(48, 64), seed=3, progress=False)
    return root


def test_same_seed_same_bytes_other_seed_other_bytes(synthetic):
    make_synthetic_gopro(str(synthetic / 'b'), train=24, test=6, size=(48, 64), seed=3, progress=False)
    make_synthetic_gopro(str(synthetic / 'c'), train=24, test=6, size=(48, 64), seed=4, progress=False)
    a, b, c = (digest_tree(str(synthetic / name)) for name in 'abc')
    assert a == b
    assert a.keys() == c.keys() and a != c
    assert len([p for p in a if p.endswith('.png')]) == 2 * (24 + 6)


def test_layout_is_gopro_large_and_test_photographs_are_held_out(synthetic):
    root = str(synthetic / 'a')
    layout, train = find_pairs(root, 'train')
    assert layout == 'GOPRO_Large' and len(train) == 24
    assert train[0].key == 'SYNTH_train_000-000001' and train[-1].key == 'SYNTH_train_001-000004'
    _, test = find_pairs(root, 'test')
    assert len(test) == 6
    assert set(TRAIN_PHOTOS).isdisjoint(TEST_PHOTOS)

    def photos(pairs):
        names = set()
        for pair in pairs:
            sidecar = os.path.join(root, os.path.dirname(os.path.dirname(pair.blur)), 'motion',
                                   os.path.basename(pair.blur).replace('.png', '.json'))
            with open(sidecar) as f:
                motion = json.load(f)
            assert 7 <= motion['sub_frames'] <= 13 and motion['sharp_index'] == motion['sub_frames'] // 2
            assert motion['trajectory_px'][motion['sharp_index']] == [0.0, 0.0]
            names.add(motion['photo'])
        return names

    assert photos(train) <= set(TRAIN_PHOTOS) and photos(test) <= set(TEST_PHOTOS)
    img = read_image(root, train[0].blur)
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8


def test_blur_strength_is_a_parameter(tmp_path):
    def mean_gradient(folder, sub):
        total = 0.0
        for base, _, files in os.walk(folder):
            for name in files:
                if os.path.basename(base) == sub:
                    img = cv2.imread(os.path.join(base, name)).astype(np.float32)
                    total += np.abs(np.diff(img, axis=1)).mean() + np.abs(np.diff(img, axis=0)).mean()
        return total

    mild = make_synthetic_gopro(str(tmp_path / 'mild'), train=6, test=1, size=(64, 64), seed=0, progress=False,
                                blur_px=(0.0, 0.0), max_rotation=0.0)
    strong = make_synthetic_gopro(str(tmp_path / 'strong'), train=6, test=1, size=(64, 64), seed=0, progress=False,
                                  blur_px=(12.0, 12.0))
    # no motion: every sub-frame equals the sharp one, so blurred == sharp up to rounding
    for base, _, files in os.walk(os.path.join(mild, 'train')):
        if os.path.basename(base) == 'blur':
            for name in files:
                diff = cv2.imread(os.path.join(base, name)).astype(int) - cv2.imread(
                    os.path.join(os.path.dirname(base), 'sharp', name)).astype(int)
                assert np.abs(diff).max() <= 1
    assert mean_gradient(strong, 'blur') < 0.8 * mean_gradient(strong, 'sharp')


def test_existing_output_is_not_replaced_without_overwrite(synthetic):
    with pytest.raises(FileExistsError, match='overwrite'):
        make_synthetic_gopro(str(synthetic / 'a'), train=1, test=1, size=(16, 16), progress=False)


def test_cli_end_to_end_into_the_converter(tmp_path):
    import importlib.util

    from basicsr_nafnet.data.prepare import prepare_gopro
    from basicsr_nafnet.data.verify import verify_lmdb_pair

    script = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'scripts',
                          'make_synthetic_gopro.py')
    spec = importlib.util.spec_from_file_location('make_synthetic_gopro_cli', script)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    out = str(tmp_path / 'syn')
    assert cli.main(['--output', out, '--train', '3', '--test', '2', '--size', '40x56', '--blur-px', '1,3',
                     '--no-progress']) == 0
    paths = prepare_gopro(out, crop_size=32, step=16, workers=0, progress=False)
    assert verify_lmdb_pair(paths['train']['lq'], paths['train']['gt']) == 3 * 6
    assert verify_lmdb_pair(paths['test']['lq'], paths['test']['gt']) == 2
    with pytest.raises(SystemExit):
        cli.parse_args(['--output', 'x', '--size', '40by56'])


def test_workers_make_the_same_bytes_and_zoom_softens_the_frames(tmp_path):
    """Rendering in processes changes nothing; magnified photographs lose fewer dB to the same camera path."""
    common = dict(train=6, test=2, size=(48, 64), seed=5, progress=False, blur_px=(6.0, 10.0))
    make_synthetic_gopro(str(tmp_path / 'one'), workers=1, zoom=(2.0, 3.0), **common)
    make_synthetic_gopro(str(tmp_path / 'two'), workers=2, zoom=(2.0, 3.0), **common)
    assert digest_tree(str(tmp_path / 'one')) == digest_tree(str(tmp_path / 'two'))
    settings = json.loads((tmp_path / 'one' / 'synthetic_gopro.json').read_text())
    assert settings['zoom'] == [2.0, 3.0]
    make_synthetic_gopro(str(tmp_path / 'plain'), **common)

    def input_psnr(root):
        _, pairs = find_pairs(str(root), 'train')
        images = [(read_image(str(root), p.blur), read_image(str(root), p.sharp)) for p in pairs]
        errors = [np.mean((blur.astype(float) - sharp.astype(float)) ** 2) for blur, sharp in images]
        return 10 * np.log10(255 ** 2 / np.mean(errors))

    assert input_psnr(tmp_path / 'one') > input_psnr(tmp_path / 'plain') + 1.0
    with pytest.raises(UserError, match='zoom'):
        make_synthetic_gopro(str(tmp_path / 'bad'), zoom=(0.0, 2.0), **common)


def _photos_by_sequence(root, split):
    folder = os.path.join(root, split)
    out = []
    for seq in sorted(os.listdir(folder)):
        with open(os.path.join(folder, seq, 'motion', '000001.json')) as f:
            out.append(json.load(f)['photo'])
    return out


def test_chosen_photographs_in_turn_and_the_default_order_unchanged(tmp_path):
    from basicsr_nafnet.data.synthetic import FRAMES_PER_SEQUENCE, GREY_PHOTOS

    n = FRAMES_PER_SEQUENCE
    train = list(TRAIN_PHOTOS[:2] + GREY_PHOTOS[:2])
    cycled = make_synthetic_gopro(str(tmp_path / 'cycled'), train=5 * n, test=2 * n, size=(32, 32), seed=1,
                                  progress=False, train_photos=train, photo_order='cycle')
    assert _photos_by_sequence(cycled, 'train') == train + train[:1]  # each in turn
    assert _photos_by_sequence(cycled, 'test') == list(TEST_PHOTOS)  # both held-out photographs, one sequence each
    grey = read_image(cycled, os.path.join('train', 'SYNTH_train_002', 'sharp', '000001.png'))
    assert grey.shape == (32, 32, 3) and (grey[..., 0] == grey[..., 2]).all()  # a grey photograph, three channels
    with open(os.path.join(cycled, 'synthetic_gopro.json')) as f:
        settings = json.load(f)
    assert settings['train_photos'] == train and settings['photo_order'] == 'cycle'
    # naming the default photographs and order changes no byte, the settings file included
    default = make_synthetic_gopro(str(tmp_path / 'default'), train=3 * n, test=n, size=(32, 32), seed=1,
                                   progress=False)
    named = make_synthetic_gopro(str(tmp_path / 'named'), train=3 * n, test=n, size=(32, 32), seed=1, progress=False,
                                 train_photos=TRAIN_PHOTOS, test_photos=TEST_PHOTOS, photo_order='random')
    assert digest_tree(default) == digest_tree(named)


@pytest.mark.parametrize('kwargs, message', [
    (dict(train_photos=['nope.png']),
     r"train_photos: 'nope\.png' is not an image in scikit-image's skimage/data; it has .*camera\.png"),
    (dict(test_photos=['astronaut.png']), 'train_photos and test_photos share astronaut.png'),
    (dict(test_photos=[]), 'test_photos is empty'),
    (dict(photo_order='shuffle'), "photo_order must be one of random, cycle, got 'shuffle'"),
    # nan passes a plain 'x < 0' check; inf would make a path no frame holds
    (dict(max_rotation=float('nan')), r'max_rotation=nan \(>= 0, finite\)'),
    (dict(blur_px=(10.0, float('inf'))), r'blur_px=\(10\.0, inf\)'),
    (dict(zoom=(1.0, float('nan'))), r'zoom=\(1\.0, nan\)'),
])
def test_bad_photographs_are_refused_before_anything_is_created(kwargs, message, tmp_path):
    with pytest.raises(UserError, match=message):
        make_synthetic_gopro(str(tmp_path / 'out'), train=2, test=1, size=(16, 16), progress=False, **kwargs)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('args, message', [
    (['--train-photos', 'camera.png,nope.png'], "'nope.png' is not an image in scikit-image's skimage/data"),
    (['--test-photos', 'camera.png,'], 'argument --test-photos: expected file names separated by commas'),
    (['--photo-order', 'shuffle'], 'argument --photo-order: invalid choice'),
])
def test_cli_photographs_bad_input_is_one_line_and_writes_nothing(args, message, tmp_path, capsys):
    from basicsr_nafnet.commands.make_synthetic_gopro import main

    assert main(['--output', str(tmp_path / 'out'), '--train', '2', '--test', '1', '--size', '16', '--no-progress',
                 *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and '\n' not in err and os.listdir(tmp_path) == []


def test_cli_photographs_in_turn(tmp_path):
    from basicsr_nafnet.commands.make_synthetic_gopro import main

    out = str(tmp_path / 'out')
    assert main(['--output', out, '--train', '40', '--test', '1', '--size', '16', '--no-progress', '--train-photos',
                 'camera.png,brick.png', '--photo-order', 'cycle']) == 0
    assert _photos_by_sequence(out, 'train') == ['camera.png', 'brick.png']
