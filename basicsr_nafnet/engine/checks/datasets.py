"""Checks of the dataset options, and of the data itself: BasicSR can list it and it makes one batch."""
import math

from ...errors import UserError
from ...fileio import check_component
from .values import check_bool, check_int, check_number, registered

__all__ = ['IO_BACKENDS', 'check_dataset', 'build_dataset']

IO_BACKENDS = ('disk', 'lmdb', 'memcached')


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
    registered(problems, DATASET_REGISTRY, dataset.get('type'), f'{where}.type', 'dataset')
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
    if is_train and phase == 'train':
        check_int(problems, dataset, 'gt_size', f'{where}.gt_size', low=1, required=True)
        check_bool(problems, dataset, 'use_hflip', f'{where}.use_hflip', required=True)
        check_bool(problems, dataset, 'use_rot', f'{where}.use_rot', required=True)
        check_int(problems, dataset, 'batch_size_per_gpu', f'{where}.batch_size_per_gpu', low=1, required=True)
        check_int(problems, dataset, 'num_worker_per_gpu', f'{where}.num_worker_per_gpu', low=0, required=True)
        check_number(problems, dataset, 'dataset_enlarge_ratio', f'{where}.dataset_enlarge_ratio', low=1)
        if dataset.get('prefetch_mode') not in (None, 'cpu', 'cuda'):
            problems.add(f'{where}.prefetch_mode', f"expected cpu or cuda, got {dataset['prefetch_mode']!r}")
    elif is_train and not phase.startswith('val'):
        problems.add(where, "unknown phase; use 'train' or a name starting with 'val'")


def build_dataset(problems, phase, dataset, opt, is_train):
    """Build the dataset as BasicSR will (lists files, reads LMDB key lists) and check one batch fits."""
    from basicsr.utils.registry import DATASET_REGISTRY

    where = f'datasets.{phase}'
    try:
        built = DATASET_REGISTRY.get(dataset['type'])(dict(dataset))
        length = len(built)
    except (AssertionError, ValueError, KeyError, OSError, TypeError) as err:
        problems.add(where, f"{dataset['type']} cannot read its data: {type(err).__name__}: "
                     f"{' '.join(str(err).split()) or '(no message)'}")
        return
    if length == 0:
        problems.add(where, 'the dataset is empty (no image pairs found)')
    elif phase == 'train' and is_train:
        ratio = dataset.get('dataset_enlarge_ratio', 1)
        per_process = math.ceil(length * ratio / opt.get('world_size', 1))
        if per_process < dataset['batch_size_per_gpu']:
            problems.add(f'{where}.batch_size_per_gpu', f"{length} training pairs (x{ratio}) give {per_process} per "
                         f"process, not one batch of {dataset['batch_size_per_gpu']}")
