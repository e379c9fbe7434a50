"""Paired test sets for the leaderboard: any layout the data package detects, plain folders, or LMDBs.

Every test set yields ``key -> (blurred, sharp)`` as H x W x 3 uint8 RGB arrays. Problems (an image
that does not decode, a pair whose sizes differ, a key present on one side only) are errors that
name the files.
"""
import os

import cv2

from basicsr_nafnet.data.png import ImageProblem, decode_rgb8
from basicsr_nafnet.errors import UserError
from basicsr_nafnet.fileio import IMAGE_EXTENSIONS

__all__ = ['TestSetError', 'PairedTestSet', 'open_testset']


class TestSetError(UserError):
    """A test set that cannot be read or whose images do not pair up."""

    __test__ = False  # not a pytest class, despite the name


class PairedTestSet:
    """Blurred/sharp pairs read on demand.

    Args:
        name (str): For tables and messages (the folder's name).
        layout (str): How the pairs were found.
        keys (list[str]): Pair keys, in order.
        reader (callable): ``reader(key, side)`` with side 'blur' or 'sharp' returns ``(bytes | array,
            description)``.
    """

    def __init__(self, root, layout, keys, reader):
        self.root = root
        self.name = os.path.basename(os.path.normpath(root))
        self.layout = layout
        self.keys = list(keys)
        self._reader = reader

    def __len__(self):
        return len(self.keys)

    def read(self, key):
        """``(blurred, sharp)`` of one pair as H x W x 3 uint8 RGB arrays."""
        images = []
        for side in ('blur', 'sharp'):
            img, where = self._reader(key, side)
            images.append(_as_rgb8(img, where))
        blur, sharp = images
        if blur.shape != sharp.shape:
            raise TestSetError(f'{self.root}: pair {key}: the blurred image is {blur.shape[1]}x{blur.shape[0]} '
                               f'but the sharp one is {sharp.shape[1]}x{sharp.shape[0]}')
        return blur, sharp


def _as_rgb8(img, where):
    """Encoded bytes, or a BGR array from :func:`~basicsr_nafnet.data.layout.read_image` (already checked),
    as H x W x 3 uint8 RGB; an unusable image raises :class:`TestSetError` naming ``where``."""
    if isinstance(img, (bytes, bytearray, memoryview)):
        try:
            img = decode_rgb8(bytes(img), where)  # the data package's checks: decodable, 8-bit, 3 channels
        except ImageProblem as err:
            raise TestSetError(str(err)) from None
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _read_file(path):
    try:
        with open(path, 'rb') as f:
            return f.read(), path
    except OSError as err:
        raise TestSetError(f'{path}: cannot read it ({err.strerror})') from None


def _from_layout(root):
    """Any layout :func:`basicsr_nafnet.data.layout.find_pairs` recognises (GoPro, HIDE, NAFNet, zips)."""
    from basicsr_nafnet.data import layout as data_layout

    name, pairs = data_layout.find_pairs(root, 'test')
    by_key = {p.key: p for p in pairs}

    def reader(key, side):
        path = getattr(by_key[key], side)
        try:
            return data_layout.read_image(root, path), path  # BGR, as OpenCV reads
        except ValueError as err:  # the data package's ImageProblem names the file
            raise TestSetError(str(err)) from None

    return PairedTestSet(root, name, [p.key for p in pairs], reader)


def _from_folders(root, blur_dir, sharp_dir):
    """``root/{blur_dir,sharp_dir}/<name>.<ext>``, paired by file name without extension."""
    sides = {}
    for side, folder in (('blur', blur_dir), ('sharp', sharp_dir)):
        path = os.path.join(root, folder)
        sides[side] = {
            os.path.splitext(f)[0]: os.path.join(path, f)
            for f in sorted(os.listdir(path)) if f.lower().endswith(IMAGE_EXTENSIONS)
        }
    _check_pairing(root, sides['blur'], sides['sharp'], blur_dir, sharp_dir)

    def reader(key, side):
        return _read_file(sides[side][key])

    return PairedTestSet(root, f'{blur_dir}/+{sharp_dir}/ folders', sorted(sides['blur']), reader)


def _lmdb_keys(path):
    meta = os.path.join(path, 'meta_info.txt')
    if not os.path.isfile(meta):
        raise TestSetError(f'{path}: no meta_info.txt (BasicSR LMDBs list their keys there)')
    with open(meta, encoding='utf-8') as f:
        # BasicSR's meta_info line: "<key>.png (h,w,c) <compression>"; the key is the text before the dot
        return [line.split(' ')[0].split('.')[0] for line in f if line.strip()]


def _from_lmdb(root):
    """``root/input.lmdb`` + ``root/target.lmdb`` as written by BasicSR (the official GoPro test set)."""
    import lmdb

    paths = {'blur': os.path.join(root, 'input.lmdb'), 'sharp': os.path.join(root, 'target.lmdb')}
    keys = {side: _lmdb_keys(p) for side, p in paths.items()}
    _check_pairing(root, dict.fromkeys(keys['blur']), dict.fromkeys(keys['sharp']), 'input.lmdb', 'target.lmdb')
    envs = {}

    def reader(key, side):
        if side not in envs:
            envs[side] = lmdb.open(paths[side], readonly=True, lock=False, readahead=False, meminit=False)
        with envs[side].begin(write=False) as txn:
            value = txn.get(key.encode('ascii'))
        where = f'{paths[side]}[{key}]'
        if value is None:
            raise TestSetError(f'{where}: listed in meta_info.txt but not stored in the LMDB')
        return bytes(value), where

    return PairedTestSet(root, 'LMDB', keys['blur'], reader)


def _check_pairing(root, blurs, sharps, blur_name, sharp_name):
    only_blur = sorted(set(blurs) - set(sharps))
    only_sharp = sorted(set(sharps) - set(blurs))
    if only_blur or only_sharp:
        lines = [f'{blur_name}/{k} (no sharp image)' for k in only_blur[:10]]
        lines += [f'{sharp_name}/{k} (no blurred image)' for k in only_sharp[:10]]
        count = len(only_blur) + len(only_sharp)
        raise TestSetError(f'{root}: {count} image(s) without a partner:\n  ' + '\n  '.join(lines) +
                           ('\n  ...' if count > len(lines) else ''))
    if not blurs:
        raise TestSetError(f'{root}: no images in {blur_name} and {sharp_name}')


def open_testset(root):
    """Find the blurred/sharp pairs of a test set.

    Args:
        root (str): A folder holding ``input.lmdb`` + ``target.lmdb`` (BasicSR LMDBs), ``input/`` +
            ``target/`` or ``blur/`` + ``sharp/`` image folders, or any dataset layout the data
            package detects (GOPRO_Large, flattened, NAFNet, HIDE; folder or zip), test split.

    Returns:
        PairedTestSet: The pairs.

    Raises:
        TestSetError: Nothing recognisable at ``root``, or images without a partner.
    """
    if not os.path.exists(root):
        raise TestSetError(f'{root}: no such file or folder')
    if os.path.isdir(os.path.join(root, 'input.lmdb')) or os.path.isdir(os.path.join(root, 'target.lmdb')):
        return _from_lmdb(root)
    for blur_dir, sharp_dir in (('input', 'target'), ('blur', 'sharp')):
        if os.path.isdir(os.path.join(root, blur_dir)) and os.path.isdir(os.path.join(root, sharp_dir)):
            return _from_folders(root, blur_dir, sharp_dir)
    try:
        return _from_layout(root)
    except ImportError:
        raise TestSetError(f'{root}: expected input.lmdb + target.lmdb or input/ + target/ inside') from None
    except ValueError as err:  # LayoutError: the data package explains what it found
        raise TestSetError(str(err)) from None
