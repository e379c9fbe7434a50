"""Reading a sample during a run: a failure names the dataset key and the file to change, not a worker traceback.

The option checks read the first pair of each dataset before anything is created; a damaged image further on
is met only when training or validation reaches it, often inside a DataLoader worker. :func:`read_sample`
turns any failure into a :class:`SampleError` whose one-line message says which file of which dataset to
replace; :func:`sample_error_message` recovers that line from the copy a worker process re-raises.
:func:`unreadable_files` finds, before the run starts, the files of a folder dataset that cannot be images
at all (empty, or no image signature in their first bytes): cheap enough for thousands of files.
"""
import os
import os.path as osp

from torch.utils.data import Dataset

from ..errors import one_line

__all__ = ['SampleError', 'ExplainedDataset', 'read_sample', 'sample_error_message', 'unreadable_files']

# the first bytes of the image formats OpenCV reads; a file with none of them fails when it is decoded
_SIGNATURES = (b'\x89PNG\r\n\x1a\n', b'\xff\xd8\xff', b'BM', b'II*\x00', b'MM\x00*', b'RIFF', b'P1', b'P2', b'P3',
               b'P4', b'P5', b'P6', b'\x00\x00\x00\x0cjP  ', b'\xff\x4f\xff\x51', b'v/1\x01', b'#?RADIANCE', b'#?RGBE')


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
    detail = one_line(err, 300)
    return f'{where}: reading sample {index}{named} failed: {type(err).__name__}: {detail}'


def unreadable_files(dataset_opt):
    """``(path, problem)`` for each file BasicSR would list in a folder dataset that cannot be an image.

    Only disk folders read by listing (BasicSR's ``paired_paths_from_folder``: every file not starting with a
    dot); LMDB and meta-info datasets are left alone. Only the first bytes are read, so a file damaged further
    in passes here and is named by :func:`read_sample` when the run reaches it.
    """
    if (dataset_opt.get('io_backend') or {}).get('type') != 'disk' or dataset_opt.get('meta_info_file'):
        return []
    found = []
    for key in ('dataroot_lq', 'dataroot_gt'):
        folder = dataset_opt.get(key)
        if not isinstance(folder, str) or not osp.isdir(folder):
            continue
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.startswith('.') or not entry.is_file():
                continue
            with open(entry.path, 'rb') as f:
                head = f.read(16)
            if not head:
                found.append((entry.path, 'is empty'))
            elif not head.startswith(_SIGNATURES):
                found.append((entry.path, 'is not an image (its first bytes are no PNG, JPEG, BMP, TIFF, WebP, '
                                          'PNM, JPEG 2000, EXR or HDR signature)'))
    return found


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
    return one_line(text)


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
