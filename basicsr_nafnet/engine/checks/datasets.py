"""Checks of the dataset options, and of the data itself: BasicSR can list it and it makes one batch."""
import copy
import math
import numbers
import os

import cv2

from ...data.verify import check_lmdb_files
from ...data.lmdb_writer import read_meta_info
from ...errors import UserError, one_line
from ...fileio import check_component
from ...models.rules import MODEL_TYPE
from .values import check_bool, check_int, check_number, registered

__all__ = ['IO_BACKENDS', 'check_dataset', 'build_dataset']

IO_BACKENDS = ('disk', 'lmdb', 'memcached')
MAX_ENLARGE_RATIO = 10 ** 5  # BasicSR's samplers hold len(dataset) x ratio indices in memory
MAX_WORKERS = max(64, 4 * (os.cpu_count() or 1))  # DataLoader processes per GPU; more is a typo, not a plan


def check_dataset(problems, phase, dataset, is_train, opt):
    """The options of ``datasets.<phase>`` as BasicSR and its PairedImageDataset read them."""
    from basicsr.utils.registry import DATASET_REGISTRY

    where = f'datasets.{phase}'
    if not isinstance(dataset, dict):
        problems.add(where, f'expected a mapping of options, got {dataset!r}')
        return
    if 'name' not in dataset:
        problems.add(f'{where}.name', 'missing (a name for logs and result folders)')
    else:
        try:
            check_component(dataset['name'], f'{where}.name')
        except UserError as err:
            problems.append(str(err))
    if (registered(problems, DATASET_REGISTRY, dataset.get('type'), f'{where}.type', 'dataset')
            and opt.get('model_type') == MODEL_TYPE and dataset['type'] != 'PairedImageDataset'
            and DATASET_REGISTRY.get(dataset['type']).__module__.startswith('basicsr.')):
        problems.add(f'{where}.type', f"{MODEL_TYPE} learns and measures on blur-sharp pairs: PairedImageDataset, "
                     f"got {dataset['type']}")
    backend = dataset.get('io_backend')
    if not isinstance(backend, dict) or backend.get('type') not in IO_BACKENDS:
        problems.add(f'{where}.io_backend', f"expected a mapping with type one of {', '.join(IO_BACKENDS)}, "
                     f'got {backend!r}')
    elif backend['type'] == 'lmdb':
        for key in ('dataroot_gt', 'dataroot_lq'):
            if isinstance(dataset.get(key), str) and not dataset[key].rstrip('/').endswith('.lmdb'):
                problems.add(f'{where}.{key}', f"io_backend lmdb reads *.lmdb folders, got {dataset[key]}")
    if dataset.get('type') == 'PairedImageDataset':
        for key in ('dataroot_gt', 'dataroot_lq'):
            if not isinstance(dataset.get(key), str):
                problems.add(f'{where}.{key}', f'expected a folder path, got {dataset.get(key)!r}')
        tmpl = dataset.get('filename_tmpl', '{}')
        if not isinstance(tmpl, str) or '{}' not in tmpl:
            problems.add(f'{where}.filename_tmpl', f"expected a template holding '{{}}', got {tmpl!r}")
    _check_normalization(problems, dataset, where)
    if is_train and phase == 'train':
        check_int(problems, dataset, 'gt_size', f'{where}.gt_size', low=1, required=True, exact=True)
        check_bool(problems, dataset, 'use_hflip', f'{where}.use_hflip', required=True)
        check_bool(problems, dataset, 'use_rot', f'{where}.use_rot', required=True)
        check_int(problems, dataset, 'batch_size_per_gpu', f'{where}.batch_size_per_gpu', low=1, required=True,
                  exact=True)
        check_int(problems, dataset, 'num_worker_per_gpu', f'{where}.num_worker_per_gpu', low=0, high=MAX_WORKERS,
                  required=True, exact=True)
        check_number(problems, dataset, 'dataset_enlarge_ratio', f'{where}.dataset_enlarge_ratio', low=1,
                     high=MAX_ENLARGE_RATIO)
        _check_loader(problems, dataset, where, opt)
    elif is_train and not phase.startswith('val'):
        problems.add(where, "unknown phase; use 'train' or a name starting with 'val'")


def _check_loader(problems, dataset, where, opt):
    """The DataLoader and prefetch options of the training set, which BasicSR reads after the run folder exists."""
    import torch

    mode = dataset.get('prefetch_mode')
    if mode not in (None, 'cpu', 'cuda'):
        problems.add(f'{where}.prefetch_mode', f"expected cpu or cuda, got {mode!r}")
    check_int(problems, dataset, 'num_prefetch_queue', f'{where}.num_prefetch_queue', low=1, high=1024, exact=True)
    check_bool(problems, dataset, 'pin_memory', f'{where}.pin_memory')
    check_bool(problems, dataset, 'persistent_workers', f'{where}.persistent_workers')
    if dataset.get('persistent_workers') is True and dataset.get('num_worker_per_gpu') == 0:
        problems.add(f'{where}.persistent_workers', 'needs worker processes (num_worker_per_gpu of at least 1)')
    if mode == 'cuda':
        if not (opt.get('num_gpu') and torch.cuda.is_available()):
            problems.add(f'{where}.prefetch_mode', 'cuda prefetching needs a GPU; use cpu or ~ here')
        elif dataset.get('pin_memory') is not True:
            problems.add(f'{where}.pin_memory', 'prefetch_mode cuda needs pin_memory: true')


def _check_normalization(problems, dataset, where):
    """``mean``/``std``: BasicSR normalizes with both or with neither, one number per channel."""
    given = [k for k in ('mean', 'std') if dataset.get(k) is not None]
    if len(given) == 1:
        other = 'std' if given == ['mean'] else 'mean'
        problems.add(f'{where}.{other}', f'missing: {where}.{given[0]} normalizes only together with {other}')
    for key in given:
        value = dataset[key]
        if (not isinstance(value, list) or len(value) != 3
                or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in value)
                or (key == 'std' and 0 in value)):
            zero = ', none 0' if key == 'std' else ''
            problems.add(f'{where}.{key}', f'expected three numbers (one per channel{zero}), got {value!r}')


def build_dataset(problems, phase, dataset, opt, is_train):
    """Build the dataset as BasicSR will (lists files, reads LMDB key lists) and check one batch fits."""
    from basicsr.utils.registry import DATASET_REGISTRY

    where = f'datasets.{phase}'
    if _lmdb_problems(problems, dataset, where):
        return
    try:
        built = DATASET_REGISTRY.get(dataset['type'])(copy.deepcopy(dataset))  # reading pops io_backend.type
        length = len(built)
    except (AssertionError, ValueError, KeyError, OSError, TypeError) as err:
        problems.add(where, f"{dataset['type']} cannot read its data: {type(err).__name__}: "
                     f"{one_line(err) or '(no message)'}")
        return
    if length == 0:
        problems.add(where, 'the dataset is empty (no image pairs found)')
        return
    before = len(problems)
    _check_pair_sizes(problems, built, dataset, where, crop=phase == 'train' and is_train, scale=opt.get('scale', 1))
    if len(problems) == before:  # a size problem is named already; reading the first pair would only repeat it
        _check_first_sample(problems, built, where)
    if phase == 'train' and is_train:
        ratio = dataset.get('dataset_enlarge_ratio', 1)
        per_process = math.ceil(length * ratio / opt.get('world_size', 1))
        if per_process < dataset['batch_size_per_gpu']:
            problems.add(f'{where}.batch_size_per_gpu', f"{length} training pairs (x{ratio}) give {per_process} per "
                         f"process, not one batch of {dataset['batch_size_per_gpu']}")


def _lmdb_problems(problems, dataset, where):
    """LMDB folders whose files do not hold what meta_info.txt lists (a missing or truncated data.mdb); True if any.

    Checked before BasicSR opens them: it maps data.mdb into memory, and a truncated one kills training with SIGBUS.
    """
    if not isinstance(dataset.get('io_backend'), dict) or dataset['io_backend'].get('type') != 'lmdb':
        return False
    found = False
    for key in ('dataroot_gt', 'dataroot_lq'):
        root = dataset.get(key)
        if isinstance(root, str) and os.path.isdir(root):
            problem = check_lmdb_files(root)
            if problem:
                problems.add(f'{where}.{key}', problem)
                found = True
    return found


def _image_sizes(built, dataset):
    """``[(name, lq (h, w), gt (h, w))]`` for every pair, from LMDB ``meta_info.txt`` or image file headers (no
    pixel is decoded); None where the sizes cannot be had cheaply (memcached, a format PIL cannot open)."""
    backend = dataset['io_backend']['type']
    if backend == 'lmdb':
        lq, gt = ({key: shape[:2] for key, shape, _ in read_meta_info(dataset[k])}
                  for k in ('dataroot_lq', 'dataroot_gt'))
        return [(p['gt_path'], lq.get(p['lq_path']), gt.get(p['gt_path'])) for p in built.paths]
    if backend != 'disk':
        return None
    from PIL import Image

    sizes = []
    for pair in built.paths:
        try:
            shapes = []
            for key in ('lq_path', 'gt_path'):
                with Image.open(pair[key]) as image:  # reads the header only
                    shapes.append(image.size[::-1])
        except (OSError, ValueError, Image.DecompressionBombError):
            return None  # leave it to the first-pair read and BasicSR's own decoder
        sizes.append((pair['gt_path'], *shapes))
    return sizes


def _check_pair_sizes(problems, built, dataset, where, crop, scale):
    """Every pair, not only the first: the crop fits (training) and the sharp image is the blurred one times the
    scale. A smaller pair further on would otherwise stop training in a DataLoader worker after the run folder was
    made."""
    try:
        sizes = _image_sizes(built, dataset)
    except (OSError, ValueError, KeyError) as err:
        problems.add(where, f"cannot read the image sizes: {one_line(err)}")
        return
    if not sizes:
        return
    scale = scale if isinstance(scale, int) and not isinstance(scale, bool) and scale > 0 else 1
    unknown = [name for name, lq, gt in sizes if lq is None or gt is None]
    if unknown:
        problems.add(where, f'{len(unknown)} of {len(sizes)} pairs have no size in meta_info.txt, first {unknown[0]}')
        return
    mismatched = [(name, lq, gt) for name, lq, gt in sizes if (gt[0], gt[1]) != (lq[0] * scale, lq[1] * scale)]
    if mismatched:
        name, lq, gt = mismatched[0]
        problems.add(where, f'{len(mismatched)} of {len(sizes)} pairs: the sharp image is not the blurred one '
                     f'x{scale}, '
                     f'first {name} (blurred {lq[1]}x{lq[0]}, sharp {gt[1]}x{gt[0]})')
        return
    gt_size = dataset.get('gt_size')
    if crop and isinstance(gt_size, int):
        small = [(name, gt) for name, _, gt in sizes if min(gt) < gt_size]
        if small:
            name, gt = min(small, key=lambda s: min(s[1]))
            problems.add(f'{where}.gt_size', f'{len(small)} of {len(sizes)} pairs are smaller than the patch size '
                         f'(crop) of {gt_size} px, the smallest {name} ({gt[1]}x{gt[0]}); lower gt_size or leave '
                         'those pairs out')


def _check_first_sample(problems, built, where):
    """Read one pair as training will (crop, scale, normalization): what the sizes alone do not show (a file that
    does not decode, normalization) fails here, named by its key, instead of in a DataLoader after the run folder was
    made. Every pair's size is checked before (:func:`_check_pair_sizes`)."""
    try:
        built[0]
    except ValueError as err:
        text = one_line(''.join(str(a) for a in err.args))  # BasicSR passes its message in pieces
        key = f'{where}.gt_size' if 'patch size' in text else 'scale' if 'Scale mismatches' in text else where
        problems.add(key, f'the first pair does not fit: {text}')
    except (AssertionError, KeyError, OSError, TypeError, AttributeError, cv2.error) as err:
        problems.add(where, f"cannot read the first pair: {type(err).__name__}: {one_line(err)}")
