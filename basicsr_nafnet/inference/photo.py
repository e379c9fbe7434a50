"""Photographs in and out as the commands and the Python API see them: OpenCV arrays (BGR, BGRA or gray; 8 or 16
bit) to float32 RGB in [0, 1] and back in the same format, files read upright (EXIF orientation applied) and
written atomically.
"""
import os

import cv2
import numpy as np

from ..errors import UserError
from ..fileio import atomic_write

__all__ = ['image_to_rgb', 'rgb_to_image', 'read_photo', 'photo_size', 'write_photo']

# EXIF orientation tag value -> operations that make the image upright
_ORIENT = {
    2: ('flip_lr', ),
    3: ('rot180', ),
    4: ('flip_ud', ),
    5: ('transpose', ),
    6: ('rot90_cw', ),
    7: ('transverse', ),
    8: ('rot90_ccw', )
}


def _exif_orientation(path):
    try:
        from PIL import Image
        with Image.open(path) as im:
            return int(im.getexif().get(0x0112, 1))
    except Exception:  # no EXIF, or a format PIL does not read: leave the image as stored
        return 1


def _apply_orientation(img, orientation):
    for op in _ORIENT.get(orientation, ()):
        if op == 'flip_lr':
            img = img[:, ::-1]
        elif op == 'flip_ud':
            img = img[::-1]
        elif op == 'rot180':
            img = img[::-1, ::-1]
        elif op == 'transpose':
            img = np.swapaxes(img, 0, 1)
        elif op == 'transverse':
            img = np.swapaxes(img, 0, 1)[::-1, ::-1]
        elif op == 'rot90_cw':
            img = np.rot90(img, -1)
        elif op == 'rot90_ccw':
            img = np.rot90(img, 1)
    return np.ascontiguousarray(img)


def image_to_rgb(img, where='image'):
    """An OpenCV image array (BGR, BGRA or gray; uint8 or uint16) as float32 RGB in [0, 1], plus its format.

    Args:
        img (ndarray): ``H x W``, ``H x W x 1``, ``H x W x 3`` (BGR) or ``H x W x 4`` (BGRA).
        where (str): How messages name it (a file path).

    Returns:
        tuple[ndarray, dict]: ``H x W x 3`` float32 RGB, and ``{'dtype', 'gray', 'alpha'}`` where ``alpha`` is the
        untouched alpha channel (or None): what :func:`rgb_to_image` needs to give the result the same format.

    Raises:
        UserError: Another pixel type or channel count.
    """
    if not isinstance(img, np.ndarray) or img.ndim not in (2, 3):
        raise UserError(f'{where}: expected an H x W or H x W x C array, got {type(img).__name__} '
                        f'{getattr(img, "shape", "")}')
    if img.dtype not in (np.uint8, np.uint16):
        raise UserError(f'{where}: {img.dtype} pixels; 8-bit and 16-bit images are supported')
    scale = 255.0 if img.dtype == np.uint8 else 65535.0
    meta = dict(dtype=img.dtype, gray=img.ndim == 2 or img.shape[2] == 1, alpha=None)
    if meta['gray']:
        rgb = np.repeat(img.reshape(img.shape[0], img.shape[1], 1), 3, axis=2)
    elif img.shape[2] == 4:
        meta['alpha'] = img[..., 3].copy()
        rgb = cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2RGB)
    elif img.shape[2] == 3:
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    else:
        raise UserError(f'{where}: {img.shape[2]} channels; expected gray, RGB or RGBA')
    return rgb.astype(np.float32) / scale, meta


def rgb_to_image(rgb, meta):
    """The inverse of :func:`image_to_rgb`: float RGB in [0, 1] back to the input's format (gray, BGRA, 16-bit)."""
    if meta['gray']:
        return _to_dtype(rgb.mean(axis=2), meta['dtype'])
    out = cv2.cvtColor(_to_dtype(rgb, meta['dtype']), cv2.COLOR_RGB2BGR)
    return np.dstack([out, meta['alpha']]) if meta['alpha'] is not None else out


def read_photo(path):
    """Read an image, upright, as float32 RGB in [0, 1] plus what is needed to save it alike.

    Returns:
        tuple[ndarray, dict]: See :func:`image_to_rgb`.

    Raises:
        UserError: The file cannot be decoded or has an unsupported pixel format.
    """
    data = np.fromfile(path, np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise UserError(f'{path}: cannot decode the image (truncated, corrupt or not an image)')
    return image_to_rgb(_apply_orientation(img, _exif_orientation(path)), path)


def photo_size(path):
    """``(height, width)`` of an image file from its header (the pixels are not decoded), or None if unreadable."""
    try:
        from PIL import Image
        with Image.open(path) as im:
            width, height = im.size
    except Exception:  # a format PIL does not read, or not an image: the caller goes without
        return None
    return height, width


def _to_dtype(img, dtype):
    scale = 255.0 if dtype == np.uint8 else 65535.0
    return np.clip(np.round(img * scale), 0, scale).astype(dtype)


def write_photo(path, rgb, meta):
    """Write a float RGB result in the input's format (gray/RGBA/16-bit kept), atomically.

    Args:
        path (str): Output file; its extension picks the encoder.
        rgb (ndarray): ``H x W x 3`` float in [0, 1].
        meta (dict): From :func:`read_photo`.
    """
    out = rgb_to_image(rgb, meta)
    ext = os.path.splitext(path)[1].lower()
    if out.dtype == np.uint16 and ext not in ('.png', '.tif', '.tiff'):
        raise UserError(f'{path}: {ext} cannot hold 16-bit pixels; use --ext png or tif')
    ok, buf = cv2.imencode(ext, out)
    if not ok:
        raise UserError(f'{path}: OpenCV cannot encode {ext} with {out.shape} {out.dtype} pixels')
    return atomic_write(path, buf.tobytes())
