"""Checks of the dataset options, and of the data itself: BasicSR can list it and it makes one batch."""
import copy
import math
import numbers
import os

import cv2

from ...data.verify import check_lmdb_files
from ...errors import UserError
from ...fileio import check_component
from ...models.rules import MODEL_TYPE
from .values import check_bool, check_int, check_number, registered

__all__ = ['IO_BACKENDS', 'check_dataset', 'build_dataset']

IO_BACKENDS = ('disk', 'lmdb', 'memcached')
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
        check_number(problems, dataset, 'dataset_enlarge_ratio', f'{where}.dataset_enlarge_ratio', low=1)
        if dataset.get('prefetch_mode') not in (None, 'cpu', 'cuda'):
            problems.add(f'{where}.prefetch_mode', f"expected cpu or cuda, got {dataset['prefetch_mode']!r}")
    elif is_train and not phase.startswith('val'):
        problems.add(where, "unknown phase; use 'train' or a name starting with 'val'")


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
                     f"{' '.join(str(err).split()) or '(no message)'}")
        return
    if length == 0:
        problems.add(where, 'the dataset is empty (no image pairs found)')
        return
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


def _check_first_sample(problems, built, where):
    """Read one pair as training will (crop, scale, normalization): a crop larger than the images or a scale the
    pairs do not have fails here, named by its key, instead of in a DataLoader after the run folder was made.
    Only the first pair is read; pairs of other sizes further on are not."""
    try:
        built[0]
    except ValueError as err:
        text = ' '.join(''.join(str(a) for a in err.args).split())  # BasicSR passes its message in pieces
        key = f'{where}.gt_size' if 'patch size' in text else 'scale' if 'Scale mismatches' in text else where
        problems.add(key, f'the first pair does not fit: {text}')
    except (AssertionError, KeyError, OSError, TypeError, AttributeError, cv2.error) as err:
        problems.add(where, f"cannot read the first pair: {type(err).__name__}: {' '.join(str(err).split())}")
