"""Checkpoints and training states: written so an interruption never leaves half a file, read without running code."""
import os
import pickle
import zipfile

import numpy as np
import torch

from .errors import UserError
from .fileio import atomic_open

__all__ = ['CheckpointError', 'atomic_save', 'to_builtin', 'load_state']


class CheckpointError(UserError):
    """A checkpoint or training state that cannot be read, or does not fit the network."""


def to_builtin(obj):
    """Numpy scalars (what ``calculate_psnr`` returns) become Python numbers, so ``weights_only`` loads."""
    if isinstance(obj, dict):
        return type(obj)((k, to_builtin(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_builtin(v) for v in obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj)
    return obj


def atomic_save(obj, path):
    """``torch.save`` to a temporary file beside ``path``, flushed to disk, then renamed over ``path``."""
    with atomic_open(path, 'wb') as f:
        torch.save(to_builtin(obj), f)


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
