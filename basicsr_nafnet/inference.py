"""Running a restoration network on whole images: tiled inference and checkpoint loading.

:func:`tiled_forward` lets a network trained on crops process frames of any size in bounded
memory; overlapping tiles are blended with weights that fall smoothly to the tile edges, so no
seam is visible. :func:`load_checkpoint` loads BasicSR and official NAFNet checkpoints safely
(``weights_only=True``) and turns every way a file can fail to fit into one clear message.
"""
import math
from collections import OrderedDict, namedtuple

import torch

from .checkpoint import CheckpointError, load_state
from .errors import UserError

__all__ = [
    'CheckpointError', 'LoadReport', 'load_checkpoint', 'read_state_dict', 'state_dict_from', 'check_state_dict_fits',
    'self_ensemble', 'tiled_forward', 'tile_starts'
]

# keys under which BasicSR and the official NAFNet releases store the weights, in order of preference
STATE_DICT_KEYS = ('params', 'params_ema', 'state_dict', 'model')

LoadReport = namedtuple('LoadReport', ['key', 'missing', 'unexpected', 'mismatched'])


# ----------------------------------------------------------------------------- tiled inference


def _pair(value, name):
    if isinstance(value, int):
        return value, value
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return tuple(value)
    raise ValueError(f'{name} must be an int or a pair of ints, got {value!r}')


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
    tile_h, tile_w = _pair(tile, 'tile')
    if tile_h <= 0 or tile_w <= 0:
        raise UserError(f'tile must be positive, got {tile!r}')
    if tile_h >= h and tile_w >= w:
        return net(img)
    tile_h, tile_w = min(tile_h, h), min(tile_w, w)
    ov_h, ov_w = _pair(overlap, 'overlap')
    if ov_h < 0 or ov_w < 0:
        raise UserError(f'overlap must be >= 0, got {overlap!r}')
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


# ----------------------------------------------------------------------------- checkpoints


def _describe(obj):
    if isinstance(obj, dict):
        keys = list(obj)[:8]
        return f'a dict with keys {keys}' + (' ...' if len(obj) > 8 else '')
    return f'a {type(obj).__name__}'


def _is_state_dict(obj):
    return isinstance(obj, dict) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def read_state_dict(path, key=None):
    """Read the weights of a checkpoint file without running any code it may contain.

    Args:
        path (str): A ``.pth`` file: BasicSR's ``{'params': ...}`` / ``{'params_ema': ...}``, or a
            bare state dict.
        key (str | None): Where the weights are inside the file. None tries ``params``,
            ``params_ema``, ``state_dict``, ``model``, then the file itself as a bare state dict.

    Returns:
        tuple[str | None, OrderedDict]: The key used (None for a bare state dict) and the state
        dict, with any ``module.`` prefix (DataParallel/DDP) removed.
    """
    return state_dict_from(load_state(path, what='checkpoint'), path, key)


def state_dict_from(ckpt, path, key=None):
    """The weights inside a loaded checkpoint ``ckpt`` (see :func:`read_state_dict`); ``path`` names it in errors."""
    if key is not None:
        if not isinstance(ckpt, dict) or key not in ckpt:
            raise CheckpointError(f"checkpoint {path}: has no key '{key}'; it holds {_describe(ckpt)}")
        state = ckpt[key]
    else:
        found = next((k for k in STATE_DICT_KEYS if isinstance(ckpt, dict) and k in ckpt and isinstance(ckpt[k], dict)),
                     None)
        key, state = (found, ckpt[found]) if found else (None, ckpt)
    if not _is_state_dict(state):
        where = f"under '{key}'" if key else 'at its top level'
        raise CheckpointError(f'checkpoint {path}: is not a state dict {where} (expected a dict of '
                              f'parameter names to tensors, found {_describe(state)})')
    prefix = 'module.'
    if all(k.startswith(prefix) for k in state):
        state = OrderedDict((k[len(prefix):], v) for k, v in state.items())
    return key, state


def _listing(names, limit=5):
    shown = ', '.join(names[:limit])
    return f'{len(names)} ({shown}{", ..." if len(names) > limit else ""})'


def check_state_dict_fits(net, state, path, key=None, strict=True):
    """Compare a checkpoint's state dict with ``net``'s by names and shapes (``net`` may live on the meta device).

    Returns:
        tuple[list, list, list]: Missing keys, unexpected keys, and shape mismatches as text.

    Raises:
        CheckpointError: With ``strict``, when any list is non-empty; the message names the file and lists the
            first few offending keys with their counts.
    """
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [
        f'{k}: checkpoint {tuple(v.shape)} vs network {tuple(own[k].shape)}' for k, v in state.items()
        if k in own and v.shape != own[k].shape
    ]
    if strict and (missing or unexpected or mismatched):
        lines = [
            f'checkpoint {path}' + (f" (weights under '{key}')" if key else '') + f' does not fit {type(net).__name__}:'
        ]
        if missing:
            lines.append(f'missing keys: {_listing(missing)}')
        if unexpected:
            lines.append(f'unexpected keys: {_listing(unexpected)}')
        if mismatched:
            lines.append(f'shape mismatches: {_listing(mismatched, 3)}')
        lines.append('check the arch and its arguments (width, enc_blk_nums, ...) against the checkpoint')
        raise CheckpointError('\n'.join(lines))
    return missing, unexpected, mismatched


def load_checkpoint(net, path, key=None, strict=True):
    """Load a BasicSR or official NAFNet checkpoint into ``net``.

    Args:
        net (nn.Module): The network; a DataParallel/DDP wrapper is unwrapped.
        path (str): Checkpoint file.
        key (str | None): Key of the weights in the file (``params``, ``params_ema``, ...); None
            picks the first present of ``params``, ``params_ema``, ``state_dict``, ``model``, or
            the file itself when it is a bare state dict.
        strict (bool): Require the keys and shapes to match exactly. With False, the matching
            tensors are loaded and the rest reported in the returned value. Default: True.

    Returns:
        LoadReport: ``key`` used, and the lists ``missing``, ``unexpected``, ``mismatched``.

    Raises:
        CheckpointError: Unreadable file, a pickle that would run code, not a state dict, or (with
            ``strict``) keys or shapes that do not fit ``net``; the message names the file and lists
            the first few offending keys with their counts.
    """
    net = getattr(net, 'module', net)
    key, state = read_state_dict(path, key)
    own = net.state_dict()
    missing, unexpected, mismatched = check_state_dict_fits(net, state, path, key, strict)
    bad = {m.split(':')[0] for m in mismatched}
    net.load_state_dict({k: v for k, v in state.items() if k in own and k not in bad}, strict=False)
    return LoadReport(key, missing, unexpected, mismatched)


# ----------------------------------------------------------------------------- self-ensemble


def _dihedral(x, index):
    """The ``index``-th of the 8 flips/rotations of the H x W plane (index 0 is the identity)."""
    if index & 4:
        x = x.transpose(-2, -1)
    if index & 2:
        x = x.flip(-2)
    if index & 1:
        x = x.flip(-1)
    return x


def _dihedral_inverse(x, index):
    if index & 1:
        x = x.flip(-1)
    if index & 2:
        x = x.flip(-2)
    if index & 4:
        x = x.transpose(-2, -1)
    return x


def self_ensemble(forward, img):
    """x8 self-ensemble: average ``forward`` over the 8 flips and 90-degree rotations of ``img``.

    Args:
        forward (callable): Maps an N x C x H x W tensor to an output of the same layout (it may be
            :func:`tiled_forward` wrapped in a lambda).
        img (Tensor): N x C x H x W input.

    Returns:
        Tensor: The mean of the 8 outputs, each mapped back to the original orientation.
    """
    total = None
    for index in range(8):
        out = _dihedral_inverse(forward(_dihedral(img, index)), index)
        acc = out.to(torch.promote_types(out.dtype, torch.float32))
        total = acc if total is None else total + acc
    return (total / 8).to(out.dtype)
