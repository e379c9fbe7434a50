"""Checkpoints and training states, read and written in one place.

Written through a temporary file renamed into place, so an interruption never leaves half a file;
read with ``weights_only=True``, so no code in a file ever runs. :func:`load_checkpoint` loads BasicSR
and official NAFNet checkpoints and turns every way a file can fail to fit into one clear message.
"""
import os
import pickle
import zipfile
from collections import OrderedDict, namedtuple

import torch

from ..errors import UserError
from ..fileio import atomic_save  # noqa: F401  (re-exported: callers of this module save states too)

__all__ = [
    'CheckpointError', 'LoadReport', 'STATE_DICT_KEYS', 'atomic_save', 'load_state', 'read_state_dict',
    'state_dict_from', 'check_state_dict_fits', 'load_checkpoint'
]

# keys under which BasicSR and the official NAFNet releases store the weights, in order of preference
STATE_DICT_KEYS = ('params', 'params_ema', 'state_dict', 'model')

LoadReport = namedtuple('LoadReport', ['key', 'missing', 'unexpected', 'mismatched'])


class CheckpointError(UserError):
    """A checkpoint or training state that cannot be read, or does not fit the network."""


def _looks_like_torch_file(path):
    """The zip archive ``torch.save`` writes, or a pickle (protocol 2+ starts with 0x80) as older releases wrote."""
    with open(path, 'rb') as f:
        first = f.read(1)
    return first == b'\x80' or zipfile.is_zipfile(path)


def load_state(path, map_location='cpu', what='checkpoint'):
    """Load a checkpoint or training state with ``weights_only=True``: no code in the file ever runs.

    Args:
        path (str): The file.
        map_location: As for ``torch.load``. Default: 'cpu'.
        what (str): How messages name the file ('checkpoint', 'training state').

    Raises:
        CheckpointError: Missing, a folder, not a PyTorch file, corrupt, or a pickle that would run code
            or build objects other than tensors; the message names the file.
    """
    if not os.path.isfile(path):
        problem = 'is a folder, not a file' if os.path.isdir(path) else 'no such file'
        raise CheckpointError(f'{what} {path}: {problem}')
    if not _looks_like_torch_file(path):
        raise CheckpointError(f'{what} {path}: not a readable PyTorch checkpoint (neither the zip archive torch.save '
                              'writes nor a legacy pickle)')
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        lines = [line.strip() for line in str(err).splitlines()]
        blocked = next((line for line in lines if 'GLOBAL' in line or 'Unsupported global' in line), None)
        if blocked is None:  # garbage bytes fail in the same unpickler with 'Unsupported operand'
            raise CheckpointError(
                f'{what} {path}: not a readable PyTorch checkpoint '
                f'({next((ln for ln in lines if "Unsupported" in ln), lines[0] if lines else "")})') from None
        # weights_only refuses any pickle that would import or call something other than tensors
        raise CheckpointError(
            f'{what} {path}: refused to load it, because unpickling it would run code or build '
            f'objects other than tensors (torch.load with weights_only=True: {blocked}). Load it with '
            'weights_only=False only if you trust its source, then re-save its state dict.') from None
    except Exception as err:  # corrupt zip, truncated file
        raise CheckpointError(f'{what} {path}: not a readable PyTorch checkpoint '
                              f'({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ""})') from None


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


def load_checkpoint(net, path, key=None, strict=True, reader=None):
    """Load a BasicSR or official NAFNet checkpoint into ``net``.

    Args:
        net (nn.Module): The network; a DataParallel/DDP wrapper is unwrapped.
        path (str): Checkpoint file.
        key (str | None): Key of the weights in the file (``params``, ``params_ema``, ...); None
            picks the first present of ``params``, ``params_ema``, ``state_dict``, ``model``, or
            the file itself when it is a bare state dict.
        strict (bool): Require the keys and shapes to match exactly. With False, the matching
            tensors are loaded and the rest reported in the returned value. Default: True.
        reader (callable | None): ``reader(path, key) -> (key, state_dict)`` for files in other layouts
            (inference's layout converter); None: :func:`read_state_dict`.

    Returns:
        LoadReport: ``key`` used, and the lists ``missing``, ``unexpected``, ``mismatched``.

    Raises:
        CheckpointError: Unreadable file, a pickle that would run code, not a state dict, or (with
            ``strict``) keys or shapes that do not fit ``net``; the message names the file and lists
            the first few offending keys with their counts.
    """
    net = getattr(net, 'module', net)
    key, state = (reader or read_state_dict)(path, key)
    own = net.state_dict()
    missing, unexpected, mismatched = check_state_dict_fits(net, state, path, key, strict)
    bad = {m.split(':')[0] for m in mismatched}
    net.load_state_dict({k: v for k, v in state.items() if k in own and k not in bad}, strict=False)
    return LoadReport(key, missing, unexpected, mismatched)
