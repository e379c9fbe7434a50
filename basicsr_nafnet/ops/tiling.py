"""Running a restoration network on whole frames of any size, tile by tile, in bounded memory.

:func:`tiled_forward` blends overlapping tiles with weights that fall smoothly to the tile edges, so
no seam is visible; a tile at least the image size runs the whole image at once.
"""
import math

import torch

from ..errors import UserError

__all__ = ['MIN_TILE', 'check_tiling', 'tiled_forward', 'tile_starts']


def _pair(value, name):
    if isinstance(value, int):
        return value, value
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return tuple(value)
    raise ValueError(f'{name} must be an int or a pair of ints, got {value!r}')


# The commands' smallest --tile: the UNet-shaped archs pad every input to a multiple of 16, so a smaller tile runs the
# network on padding mostly, thousands of times per frame (a 3 px tile: 16,384 runs for a 256x256 image).
MIN_TILE = 16


def check_tiling(tile, overlap, tile_key='tile', overlap_key='overlap'):
    """The one check of a tile size and overlap, before any work starts.

    Args:
        tile (int | tuple[int, int] | None): Tile height and width; None runs whole frames.
        overlap (int | tuple[int, int]): Overlap between neighbouring tiles, in pixels.
        tile_key, overlap_key (str): How the message names them (a CLI flag, an option key).

    Returns:
        tuple: ``(tile, overlap)`` as pairs of ints (``tile`` None stays None).

    Raises:
        UserError: Not ints (or pairs of ints), a tile < 1, or an overlap < 0.
    """
    try:
        overlap_pair = _pair(overlap, overlap_key)
        tile_pair = None if tile is None else _pair(tile, tile_key)
    except ValueError as err:
        raise UserError(str(err)) from None
    if tile_pair is not None and min(tile_pair) <= 0:
        raise UserError(f'{tile_key} must be positive, got {tile!r}')
    if min(overlap_pair) < 0:
        raise UserError(f'{overlap_key} must be >= 0, got {overlap!r}')
    return tile_pair, overlap_pair


def tile_starts(length, tile, overlap):
    """Start offsets of tiles of size ``tile`` covering ``[0, length)`` with at least ``overlap`` overlap.

    The tiles are spread evenly; the first starts at 0 and the last ends at ``length``.
    """
    if tile >= length:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    count = max(count, 2)
    span = length - tile
    # even spacing; rounding keeps every overlap >= the requested one because count was rounded up
    return [round(i * span / (count - 1)) for i in range(count)]


def _ramp(size, lead, trail, dtype, device):
    """1-D blend weight: a raised-cosine ramp over ``lead`` pixels at the start, ``trail`` at the end.

    The ramp never reaches zero, so every pixel has positive total weight even where only one
    tile covers it; the side of a tile at the image border has no ramp.
    """
    w = torch.ones(size, dtype=dtype, device=device)
    for length, flip in ((lead, False), (trail, True)):
        if length <= 0:
            continue
        length = min(length, size)
        pos = (torch.arange(length, dtype=dtype, device=device) + 0.5) / length
        ramp = 0.5 - 0.5 * torch.cos(math.pi * pos)
        if flip:
            w[size - length:] = torch.minimum(w[size - length:], ramp.flip(0))
        else:
            w[:length] = torch.minimum(w[:length], ramp)
    return w


def tiled_forward(net, img, tile=None, overlap=32, progress=False):
    """Run ``net`` on ``img`` tile by tile and blend the tiles back into one image.

    Args:
        net (callable): Maps an N x C x H x W tensor to an output of the same H x W.
        img (Tensor): N x C x H x W input.
        tile (int | tuple[int, int] | None): Tile height and width. None, or a tile at least as
            large as the image, runs the whole image at once: the result is exactly ``net(img)``.
            Along an axis shorter than the tile, the tile is the whole axis.
        overlap (int | tuple[int, int]): Minimum overlap between neighbouring tiles, in pixels,
            capped at half the tile. The overlap is blended with raised-cosine weights. Default: 32.
        progress (bool): Show a tqdm bar over the tiles. Default: False.

    Returns:
        Tensor: The output, N x C_out x H x W, in the dtype ``net`` returns.
    """
    if img.dim() != 4:
        raise ValueError(f'tiled_forward expects an N x C x H x W tensor, got shape {tuple(img.shape)}')
    h, w = img.shape[-2:]
    if tile is None:
        return net(img)
    (tile_h, tile_w), (ov_h, ov_w) = check_tiling(tile, overlap)
    if tile_h >= h and tile_w >= w:
        return net(img)
    tile_h, tile_w = min(tile_h, h), min(tile_w, w)
    # more than half a tile of overlap would run most pixels three or more times
    ov_h, ov_w = min(ov_h, tile_h // 2), min(ov_w, tile_w // 2)
    ys, xs = tile_starts(h, tile_h, ov_h), tile_starts(w, tile_w, ov_w)

    out = weight = None
    boxes = [(i, j) for i in range(len(ys)) for j in range(len(xs))]
    if progress:
        from tqdm import tqdm
        boxes = tqdm(boxes, desc='tiles', unit='tile', leave=False)
    for i, j in boxes:
        y, x = ys[i], xs[j]
        pred = net(img[..., y:y + tile_h, x:x + tile_w])
        if pred.shape[-2:] != (tile_h, tile_w):
            raise ValueError(f'tiled_forward needs a network that keeps H x W; a {tile_h}x{tile_w} tile '
                             f'gave {tuple(pred.shape[-2:])}')
        if out is None:
            acc = torch.promote_types(pred.dtype, torch.float32)
            out = torch.zeros((*pred.shape[:2], h, w), dtype=acc, device=pred.device)
            weight = torch.zeros((h, w), dtype=acc, device=pred.device)
        # ramp only towards neighbouring tiles, by the overlap actually shared with them
        top = ys[i - 1] + tile_h - y if i > 0 else 0
        bottom = y + tile_h - ys[i + 1] if i + 1 < len(ys) else 0
        left = xs[j - 1] + tile_w - x if j > 0 else 0
        right = x + tile_w - xs[j + 1] if j + 1 < len(xs) else 0
        wy = _ramp(tile_h, top, bottom, acc, pred.device)
        wx = _ramp(tile_w, left, right, acc, pred.device)
        w2d = wy[:, None] * wx[None, :]
        out[..., y:y + tile_h, x:x + tile_w] += pred.to(acc) * w2d
        weight[y:y + tile_h, x:x + tile_w] += w2d
    return (out / weight).to(pred.dtype)
