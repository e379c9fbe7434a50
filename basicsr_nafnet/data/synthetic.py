"""A GoPro-like synthetic dataset, made the way GoPro was made, from photographs shipped with scikit-image.

GoPro's blurred frames are averages of 7 to 13 consecutive sharp 240 fps frames, averaged in linear
light; the sharp frame is the middle one. Here the consecutive frames come from a virtual camera
moving along a smooth random trajectory (translation along a cubic curve plus a small rotation)
over a still photograph, so every blurred/sharp pair is physically consistent and free of
licensing or download questions.

Output, in the ``GOPRO_Large`` layout so the converter is exercised end to end::

    <output>/train/SYNTH_train_000/blur/000001.png   .../sharp/000001.png   .../motion/000001.json
    <output>/test/SYNTH_test_000/...
    <output>/synthetic_gopro.json   (the arguments, to re-create the folder; also the mark that
                                     ``overwrite`` looks for before it replaces a folder)

Each sequence is cut from one photograph; train and test use different photographs so the test
split is held out. The same arguments give byte-identical files.
"""
import json
import math
import os
import shutil

import cv2
import numpy as np
from tqdm import tqdm

from ..errors import UserError
from ..locks import LOCK_NAME, output_lock

__all__ = ['make_synthetic_gopro', 'synthetic_pairs', 'pairs_per_photo', 'TRAIN_PHOTOS', 'TEST_PHOTOS', 'GREY_PHOTOS',
           'GAMMA', 'photo_path']

# natural colour photographs bundled in scikit-image's wheel (no network); disjoint between splits
TRAIN_PHOTOS = ('astronaut.png', 'motorcycle_left.png', 'motorcycle_right.png', 'rocket.jpg', 'retina.jpg',
                'ihc.png', 'hubble_deep_field.jpg')
TEST_PHOTOS = ('chelsea.png', 'coffee.png')
# grey natural photographs and textures in the same wheel, at least ~300 px on each side (so a 256 frame needs no
# magnification); read as three equal channels. More variety for a training set (the ladder's 'varied' data)
GREY_PHOTOS = ('camera.png', 'brick.png', 'grass.png', 'gravel.png', 'coins.png', 'moon.png')
PHOTO_ORDERS = ('random', 'cycle')  # per sequence: a photograph drawn at random, or each in turn (equal shares)
GAMMA = 2.2
SETTINGS_FILE = 'synthetic_gopro.json'  # written last; marks a folder as this generator's output
FRAMES_PER_SEQUENCE = 20
VERSION = 1  # bump when the output for given arguments changes


def _photo_folder():
    """skimage/data inside the installed scikit-image package, where its bundled photographs are."""
    import skimage.data
    return os.path.dirname(skimage.data.__file__)


def photo_path(name):
    """Path of a photograph inside the installed scikit-image package."""
    path = os.path.join(_photo_folder(), name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: scikit-image photograph not found (is scikit-image installed fully?)')
    return path


def _load_linear(name):
    img = cv2.imread(photo_path(name), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f'{photo_path(name)}: cannot read the photograph')
    return (img.astype(np.float32) / 255.0) ** GAMMA


def _to_srgb8(linear):
    return np.clip(np.round(np.clip(linear, 0, 1) ** (1 / GAMMA) * 255.0), 0, 255).astype(np.uint8)


def _trajectory(rng, n_frames, blur_px, max_rotation):
    """Camera offsets (pixels) and rotations (degrees) of ``n_frames`` sub-frames, centred on the middle one.

    The path is a random cubic through the origin, rescaled to a length drawn from ``blur_px``;
    the rotation grows linearly to a total drawn from ``[-max_rotation, max_rotation]``.
    """
    t = np.linspace(-0.5, 0.5, n_frames)
    t -= t[n_frames // 2]  # the sharp (middle) sub-frame sits at the origin, unmoved
    coeffs = rng.normal(size=(3, 2)) * np.array([[1.0], [0.6], [0.3]])  # mostly straight, gently curved
    path = sum(c[None, :] * t[:, None] ** (i + 1) for i, c in enumerate(coeffs))
    length = np.sum(np.linalg.norm(np.diff(path, axis=0), axis=1))
    path *= rng.uniform(*blur_px) / max(length, 1e-9)
    rotation = rng.uniform(-max_rotation, max_rotation) * t
    return path, rotation


def _render_pair(photo, rng, size, blur_px, max_rotation, sub_frames, zoom=None):
    """One blurred/sharp pair (uint8 BGR) and its motion parameters."""
    h, w = size
    n_frames = int(rng.integers(sub_frames[0], sub_frames[1] + 1))
    path, rotation = _trajectory(rng, n_frames, blur_px, max_rotation)
    margin = int(math.ceil(np.abs(path).max() + math.radians(np.abs(rotation).max()) * math.hypot(h, w) / 2 + 2))
    canvas_h, canvas_w = h + 2 * margin, w + 2 * margin
    src_h, src_w = photo.shape[:2]
    min_scale = max(canvas_h / src_h, canvas_w / src_w)  # output pixels per photo pixel
    low, high = (min_scale, max(min_scale, 1.0)) if zoom is None else (max(min_scale, zoom[0]), max(min_scale, zoom[1]))
    scale = float(math.exp(rng.uniform(math.log(low), math.log(high))))
    roi_h, roi_w = min(src_h, int(math.ceil(canvas_h / scale))), min(src_w, int(math.ceil(canvas_w / scale)))
    top, left = int(rng.integers(0, src_h - roi_h + 1)), int(rng.integers(0, src_w - roi_w + 1))
    flip = bool(rng.integers(0, 2))
    # magnified (zoom): cubic, as INTER_AREA upsamples into visible pixel blocks; the default keeps its bytes
    interpolation = cv2.INTER_CUBIC if zoom is not None and scale > 1 else cv2.INTER_AREA
    canvas = cv2.resize(photo[top:top + roi_h, left:left + roi_w], (canvas_w, canvas_h), interpolation=interpolation)
    canvas = np.clip(canvas, 0, None)  # cubic overshoots below zero in linear light
    if flip:
        canvas = np.ascontiguousarray(canvas[:, ::-1])
    centre = (canvas_w / 2.0, canvas_h / 2.0)
    frames = []
    for (dx, dy), angle in zip(path, rotation):
        matrix = cv2.getRotationMatrix2D(centre, float(angle), 1.0)
        matrix[:, 2] += (dx - margin, dy - margin)  # move the camera, then keep the central h x w window
        frames.append(cv2.warpAffine(canvas, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101))
    blur = _to_srgb8(np.mean(frames, axis=0))  # averaged in linear light, then gamma re-applied
    sharp = _to_srgb8(frames[n_frames // 2])
    motion = {
        'sub_frames': n_frames, 'sharp_index': n_frames // 2, 'gamma': GAMMA,
        'trajectory_px': np.round(path, 4).tolist(), 'rotation_deg': np.round(rotation, 5).tolist(),
        'scale': round(scale, 6), 'photo_window_yxhw': [top, left, roi_h, roi_w], 'flip_horizontal': flip,
    }
    return blur, sharp, motion


_PHOTOS = {}  # per process: linear-light photographs already read


_SPLIT_IDS = {'train': 0, 'test': 1}


def _sequence_photo(split, seq, seed, photos=None, photo_order='random'):
    """The photograph of sequence ``seq`` of ``split`` (every frame of a sequence comes from it)."""
    names = tuple(photos) if photos else {'train': TRAIN_PHOTOS, 'test': TEST_PHOTOS}[split]
    seq_rng = np.random.default_rng([seed, _SPLIT_IDS[split], seq])
    drawn = int(seq_rng.integers(len(names)))  # drawn either way, so 'cycle' leaves every other draw as it was
    return names[seq % len(names) if photo_order == 'cycle' else drawn]


def pairs_per_photo(split, count, seed=0, photos=None, photo_order='random'):
    """``{photograph: pairs}`` of the first ``count`` pairs of ``split``, without rendering them."""
    shares = {}
    for index in range(count):
        name = _sequence_photo(split, index // FRAMES_PER_SEQUENCE, seed, photos, photo_order)
        shares[name] = shares.get(name, 0) + 1
    return shares


def _pair(split, index, size, seed, blur_px, max_rotation, sub_frames, zoom, photos=None, photo_order='random'):
    """Pair ``index`` of ``split``: ``(sequence, frame, photo, blurred, sharp, motion)``; depends on nothing else."""
    split_id = _SPLIT_IDS[split]
    seq, frame = divmod(index, FRAMES_PER_SEQUENCE)
    name = _sequence_photo(split, seq, seed, photos, photo_order)
    if name not in _PHOTOS:
        _PHOTOS[name] = _load_linear(name)
    rng = np.random.default_rng([seed, split_id, seq, frame + 1])
    blur, sharp, motion = _render_pair(_PHOTOS[name], rng, size, blur_px, max_rotation, sub_frames, zoom)
    return seq, frame, name, blur, sharp, motion


def _pair_star(args):
    return _pair(*args)


def synthetic_pairs(split, count, size=(256, 256), seed=0, blur_px=(2.0, 8.0), max_rotation=0.5, sub_frames=(7, 13),
                    zoom=None, workers=1, photos=None, photo_order='random'):
    """The pairs :func:`make_synthetic_gopro` writes for one split, in memory, in its order.

    Args:
        split (str): 'train' or 'test' (the test split's photographs are never used for training).
        count (int): Number of pairs.
        size, seed, blur_px, max_rotation, sub_frames, zoom: As for :func:`make_synthetic_gopro`.
        workers (int): Render in this many processes (every pair has its own seed: the same pairs either way).
        photos (sequence[str] | None): The split's photographs (file names in ``skimage/data``); None: the
            generator's own (:data:`TRAIN_PHOTOS` or :data:`TEST_PHOTOS`).
        photo_order (str): 'random' (each sequence draws its photograph) or 'cycle' (in turn, equal shares).

    Yields:
        tuple: ``(sequence, frame, photo name, blurred, sharp, motion)``; images are H x W x 3 uint8 BGR.
    """
    if split not in ('train', 'test'):
        raise KeyError(split)
    jobs = ((split, index, _parse_size(size), seed, blur_px, max_rotation, sub_frames, zoom, photos, photo_order)
            for index in range(count))
    if workers <= 1 or count < 2:
        yield from map(_pair_star, jobs)
        return
    import multiprocessing
    with multiprocessing.get_context('fork').Pool(min(workers, count)) as pool:
        yield from pool.imap(_pair_star, jobs, chunksize=4)


def _write_png(path, img):
    ok, buf = cv2.imencode('.png', img, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise ValueError(f'cannot encode {path}')
    with open(path, 'wb') as f:
        f.write(buf.tobytes())


def _parse_size(size):
    if isinstance(size, int):
        return size, size
    h, w = (int(v) for v in size)
    if h < 8 or w < 8:
        raise UserError(f'size must be at least 8x8, got {h}x{w}')
    return h, w


def make_synthetic_gopro(output, train=200, test=40, size=(256, 256), seed=0, progress=True,
                         blur_px=(2.0, 8.0), max_rotation=0.5, sub_frames=(7, 13), zoom=None, workers=1,
                         overwrite=False, train_photos=None, test_photos=None, photo_order='random'):
    """Write a GoPro-like dataset in the ``GOPRO_Large`` layout.

    Args:
        output (str): Folder to create (written as a hidden ``.<name>.partial`` beside it and renamed when
            complete, under a lock: a second run into the same output is refused while this one runs).
        train (int): Number of training pairs.
        test (int): Number of test pairs (from photographs the training pairs never use).
        size (int | tuple[int, int]): ``(H, W)`` of each image.
        seed (int): The same seed and arguments give byte-identical files.
        progress (bool): Show a progress bar.
        blur_px (tuple[float, float]): Range of the camera path length in pixels; the blur strength.
            The moderate default lets a small CPU model learn quickly; GoPro's own blur reaches tens of pixels.
        max_rotation (float): Largest total in-plane camera rotation over the exposure, in degrees.
        sub_frames (tuple[int, int]): Range of the number of averaged sub-frames (GoPro: 7 to 13).
        zoom (tuple[float, float] | None): Range of the photograph's magnification (output pixels per photo
            pixel, drawn log-uniformly; never below what fills the frame). None: from filling the frame up to 1.
            Magnified photographs are smoother, so the same path length costs fewer dB (docs/ladder-data.md).
        workers (int): Render the pairs in this many processes; the files are the same for any number.
        overwrite (bool): Replace an existing ``output``, only if this generator made it (it holds
            ``synthetic_gopro.json``); any other folder is refused.
        train_photos, test_photos (sequence[str] | None): Photographs of each split, file names in scikit-image's
            ``skimage/data`` (grey ones are read as three equal channels, e.g. :data:`GREY_PHOTOS`); disjoint.
            None: :data:`TRAIN_PHOTOS`, :data:`TEST_PHOTOS`.
        photo_order (str): How each 20-frame sequence gets its photograph: 'random' (drawn; the default, whose
            files never change) or 'cycle' (in turn, so every photograph has an equal share of each split).

    Returns:
        str: ``output``.
    """
    output = os.fspath(output)
    h, w = _parse_size(size)
    if train < 0 or test < 0 or train + test == 0:
        raise UserError(f'need a positive number of pairs, got train={train}, test={test}')
    if zoom is not None and not (0 < zoom[0] <= zoom[1] < math.inf):
        raise UserError(f'bad range: zoom={zoom} (0 < low <= high, finite)')
    # written so that nan fails every comparison; inf is refused too (a path or turn no frame can hold)
    if (not (0 <= blur_px[0] <= blur_px[1] < math.inf) or not (1 <= sub_frames[0] <= sub_frames[1])
            or not (0 <= max_rotation < math.inf)):
        raise UserError(f'bad ranges: blur_px={blur_px} (0 <= low <= high), '
                        f'sub_frames={sub_frames} (1 <= low <= high), '
                        f'max_rotation={max_rotation} (>= 0, finite)')
    train_photos, test_photos = _check_photos(train_photos, test_photos, photo_order)
    _check_replaceable(output, overwrite)  # before anything is created
    parent, name = os.path.split(os.path.abspath(output))
    os.makedirs(parent, exist_ok=True)
    # hidden, beside the output (which does not exist until it is complete): the lock, the unfinished folder, and
    # the folder being replaced; a killed run's are taken over or removed by the next
    partial, aside = os.path.join(parent, f'.{name}.partial'), os.path.join(parent, f'.{name}.old')
    with output_lock(os.path.join(parent, f'.{name}{LOCK_NAME}'), output,
                     announce=tqdm.write if progress else None):
        _check_replaceable(output, overwrite)  # again: another run may have finished meanwhile
        for left in (partial, aside):
            shutil.rmtree(left, ignore_errors=True)
        _write(partial, train, test, (h, w), seed, progress, blur_px, max_rotation, sub_frames, zoom, workers,
               train_photos, test_photos, photo_order)
        if os.path.exists(output):  # aside first, not rmtree: killed half-way that would leave a folder that
            os.replace(output, aside)  # still holds synthetic_gopro.json, looking complete
            os.replace(partial, output)
            shutil.rmtree(aside)
        else:
            os.replace(partial, output)
    return output


def _check_photos(train_photos, test_photos, photo_order):
    """``(train, test)`` photograph tuples, each readable and the two disjoint; bad names raise :class:`UserError`."""
    if photo_order not in PHOTO_ORDERS:
        raise UserError(f"photo_order must be one of {', '.join(PHOTO_ORDERS)}, got {photo_order!r}")
    chosen = []
    for split, names, default in (('train', train_photos, TRAIN_PHOTOS), ('test', test_photos, TEST_PHOTOS)):
        names = tuple(default if names is None else names)
        if not names:
            raise UserError(f'{split}_photos is empty')
        for name in names:
            try:
                photo_path(name)
            except FileNotFoundError as err:
                if name in TRAIN_PHOTOS + TEST_PHOTOS + GREY_PHOTOS:  # ours: the install lacks it
                    raise UserError(f'{split}_photos: {err}') from None
                raise UserError(f'{split}_photos: {name!r} is not an image in scikit-image\'s skimage/data; '
                                f"it has {', '.join(_bundled_images())}") from None
        chosen.append(names)
    shared = sorted(set(chosen[0]) & set(chosen[1]))
    if shared:
        raise UserError(f"train_photos and test_photos share {', '.join(shared)}; held-out pairs need other "
                        'photographs')
    return tuple(chosen)


def _bundled_images():
    image_suffixes = ('.png', '.jpg', '.jpeg', '.tif', '.tiff')
    return sorted(n for n in os.listdir(_photo_folder()) if n.lower().endswith(image_suffixes))


def _check_replaceable(output, overwrite):
    if os.path.exists(output):
        if not os.path.isdir(output):
            raise UserError(f'{output}: exists and is not a folder')
        if not overwrite:
            raise FileExistsError(f'{output} exists; pass overwrite=True (--overwrite) to replace it')
        if not os.path.isfile(os.path.join(output, SETTINGS_FILE)):
            raise UserError(f'{output}: refusing to replace it, this generator did not make it (no {SETTINGS_FILE} '
                            'inside); choose another --output or remove the folder yourself')


def _write(partial, train, test, size, seed, progress, blur_px, max_rotation, sub_frames, zoom, workers,
           train_photos=TRAIN_PHOTOS, test_photos=TEST_PHOTOS, photo_order='random'):
    """Every pair and the settings file into the folder ``partial`` (made here, removed on an error)."""
    h, w = size
    os.makedirs(partial)
    settings = dict(version=VERSION, train=train, test=test, size=[h, w], seed=seed, blur_px=list(blur_px),
                    max_rotation=max_rotation, sub_frames=list(sub_frames), gamma=GAMMA,
                    zoom=None if zoom is None else list(zoom),
                    train_photos=list(train_photos), test_photos=list(test_photos))
    if photo_order != 'random':  # recorded only when not the default, so default settings files stay as they were
        settings['photo_order'] = photo_order
    try:
        bar = tqdm(total=train + test, unit='pair', desc='synthetic GoPro', disable=not progress)
        for split, count, photos in (('train', train, train_photos), ('test', test, test_photos)):
            pairs = synthetic_pairs(split, count, (h, w), seed, blur_px, max_rotation, sub_frames, zoom, workers,
                                    photos, photo_order)
            for seq, frame, name, blur, sharp, motion in pairs:
                folder = os.path.join(partial, split, f'SYNTH_{split}_{seq:03d}')
                stem = f'{frame + 1:06d}'
                for sub, img in (('blur', blur), ('sharp', sharp)):
                    os.makedirs(os.path.join(folder, sub), exist_ok=True)
                    _write_png(os.path.join(folder, sub, stem + '.png'), img)
                os.makedirs(os.path.join(folder, 'motion'), exist_ok=True)
                with open(os.path.join(folder, 'motion', stem + '.json'), 'w') as f:
                    json.dump(dict(photo=name, **motion), f, sort_keys=True)
                bar.update(1)
        bar.close()
        with open(os.path.join(partial, SETTINGS_FILE), 'w') as f:
            json.dump(settings, f, sort_keys=True, indent=1)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
