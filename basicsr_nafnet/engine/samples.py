"""Reading a sample during a run: a failure names the dataset key and the file to change, not a worker traceback.

The option checks read the first pair of each dataset before anything is created; a damaged image further on
is met only when training or validation reaches it, often inside a DataLoader worker. :func:`read_sample`
turns any failure into a :class:`SampleError` whose one-line message says which file of which dataset to
replace; :func:`sample_error_message` recovers that line from the copy a worker process re-raises.
"""
import os.path as osp

from torch.utils.data import Dataset

__all__ = ['SampleError', 'ExplainedDataset', 'read_sample', 'sample_error_message']


class SampleError(RuntimeError):
    """Reading one sample of a dataset failed; the message is one line naming the dataset key and the files."""


def _diagnose(path, from_lmdb):
    """What is wrong with one image file of a pair, or None when it reads."""
    if from_lmdb or not isinstance(path, str):
        return None
    if not osp.isfile(path):
        return 'is missing'
    import cv2
    import numpy as np

    with open(path, 'rb') as f:
        data = f.read()
    if not data:
        return 'is empty'
    try:
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        decoded = None
    if decoded is None:
        return f'cannot be decoded as an image ({len(data)} bytes: damaged, truncated or not an image)'
    return None


def _explain(dataset, index, where, err):
    paths = getattr(dataset, 'paths', None)
    pair = paths[index] if isinstance(paths, list) and 0 <= index < len(paths) else None
    files = [pair[k] for k in ('lq_path', 'gt_path') if k in pair] if isinstance(pair, dict) else []
    options = getattr(dataset, 'opt', None) or {}
    from_lmdb = str(options.get('dataroot_gt', '')).rstrip('/').endswith('.lmdb')
    for path in files:
        problem = _diagnose(path, from_lmdb)
        if problem:
            return f'{where}: {path} {problem}; replace it (or remove the pair {", ".join(files)})'
    named = f' ({", ".join(str(f) for f in files)})' if files else ''
    detail = ' '.join(str(err).split())[:300]
    return f'{where}: reading sample {index}{named} failed: {type(err).__name__}: {detail}'


def read_sample(dataset, index, where):
    """``dataset[index]``; any failure becomes a :class:`SampleError` naming ``where`` (the option key) and files."""
    try:
        return dataset[index]
    except SampleError:
        raise
    except Exception as err:  # whatever a dataset raises, the user needs the file, not the stack
        raise SampleError(_explain(dataset, index, where, err)) from None


def sample_error_message(err):
    """The one line of a :class:`SampleError`, also of the copy a DataLoader worker re-raises (its traceback text)."""
    text = str(err)
    marker = f'{SampleError.__name__}: '
    if 'Original Traceback' in text and marker in text:
        text = text[text.rfind(marker) + len(marker):]
    return ' '.join(text.split())


class ExplainedDataset(Dataset):
    """Wraps a dataset so that a sample that fails to read raises a :class:`SampleError` naming ``where``."""

    def __init__(self, dataset, where):
        self.dataset = dataset
        self.where = where

    def __len__(self):
        return len(self.dataset)

    def __getattr__(self, name):  # opt, paths, ... of the wrapped dataset
        if name == 'dataset':
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, index):
        return read_sample(self.dataset, index, self.where)
