"""Writing checkpoints so that an interruption never leaves a half-written file, and loading them safely."""
import os

import numpy as np
import torch

__all__ = ['atomic_save', 'to_builtin', 'load_state']


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
    """``torch.save`` to ``<path>.tmp``, flush to disk, then rename over ``path``."""
    tmp = f'{path}.tmp'
    with open(tmp, 'wb') as f:
        torch.save(to_builtin(obj), f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_state(path, map_location='cpu'):
    """Load a checkpoint or training state with ``weights_only=True`` (no code runs from the file)."""
    return torch.load(path, map_location=map_location, weights_only=True)


