"""PNG checks and decoding for the converter.

:func:`png_header` reads size, bit depth and colour type from the first 33 bytes and whether the
file ends with its ``IEND`` chunk, so every source image can be checked before anything is written
without decoding it (the images are then decoded once, in the workers). :func:`decode_rgb8` is
the full check used after a complete read.
"""
import struct
from collections import namedtuple

import cv2
import numpy as np

from ..errors import UserError

__all__ = ['PngHeader', 'png_header', 'header_problem', 'decode_rgb8', 'encode_png', 'ImageProblem']

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
IEND_CHUNK = b'\x00\x00\x00\x00IEND\xaeB`\x82'
# PNG colour types (specification, section 11.2.2)
COLOUR_TYPES = {0: 'grayscale', 2: 'RGB', 3: 'palette', 4: 'grayscale+alpha', 6: 'RGBA'}

PngHeader = namedtuple('PngHeader', ['width', 'height', 'bit_depth', 'colour_type', 'complete'])


class ImageProblem(UserError):
    """An image that cannot be used as an 8-bit, 3-channel training image."""


def png_header(head, tail):
    """Parse a PNG's IHDR from its first 33 bytes; ``None`` if it is not a PNG at all.

    Args:
        head (bytes): At least the first 33 bytes of the file.
        tail (bytes): The last 12 bytes of the file.

    Returns:
        PngHeader | None: ``complete`` is False when the file does not end with IEND (truncated).
    """
    if len(head) < 33 or not head.startswith(PNG_SIGNATURE) or head[12:16] != b'IHDR':
        return None
    width, height, bit_depth, colour_type = struct.unpack('>IIBB', head[16:26])
    return PngHeader(width, height, bit_depth, colour_type, tail == IEND_CHUNK)


def header_problem(header):
    """What makes a PNG unusable, from its header alone; ``None`` if it looks fine."""
    if header is None:
        return 'not a PNG file (bad signature or missing IHDR)'
    if not header.complete:
        return 'truncated (the file does not end with the IEND chunk)'
    if header.bit_depth != 8:
        return f'{header.bit_depth}-bit {COLOUR_TYPES.get(header.colour_type, "?")}; expected 8-bit RGB'
    if header.colour_type != 2:
        return f'{COLOUR_TYPES.get(header.colour_type, "unknown colour type")}; expected 8-bit RGB'
    return None


def decode_rgb8(data, name):
    """Decode image bytes to an ``H x W x 3`` uint8 BGR array (OpenCV / BasicSR order).

    Args:
        data (bytes): The encoded file.
        name (str): Shown in the error.

    Raises:
        ImageProblem: undecodable or truncated data, or not 8-bit 3-channel.
    """
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ImageProblem(f'{name}: cannot decode the image (truncated or corrupt)')
    if img.dtype != np.uint8:
        raise ImageProblem(f'{name}: {img.dtype} pixels; expected 8-bit RGB')
    if img.ndim != 3 or img.shape[2] != 3:
        channels = 1 if img.ndim == 2 else img.shape[2]
        raise ImageProblem(f'{name}: {channels} channel(s); expected 8-bit RGB')
    return img


def encode_png(img, compress_level=1):
    """PNG bytes as ``basicsr.utils.lmdb_util`` stores them (``cv2.imencode``, given compression level)."""
    ok, buf = cv2.imencode('.png', img, [cv2.IMWRITE_PNG_COMPRESSION, compress_level])
    if not ok:
        raise ImageProblem(f'cannot encode an image of shape {img.shape} as PNG')
    return buf.tobytes()
