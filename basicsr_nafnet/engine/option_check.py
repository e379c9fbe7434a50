"""Checking options against what BasicSR and our model will read, before the pipeline creates anything.

BasicSR reads options lazily: an unknown arch, a string where a number belongs, a checkpoint that
does not fit or a dataset too small for one batch surfaces as a ``KeyError`` or ``TypeError`` after
the experiment folder was created and an older one renamed aside. :func:`validate_options` finds
all of that first and raises one :class:`~basicsr_nafnet.options.OptionsError` listing every
problem by its key. Networks are built on the ``meta`` device (shapes only, no memory), optimizers,
schedulers and losses on a one-element stand-in, datasets as BasicSR builds them (folder listings
and LMDB key lists, no image is decoded).
"""
import math
import numbers

import torch

from ..errors import UserError
from ..fileio import check_component
from .checkpoint import check_state_dict_fits, load_state, state_dict_from
from .options import OptionsError

__all__ = ['validate_options', 'build_meta_network', 'check_checkpoint_fits']

IO_BACKENDS = ('disk', 'lmdb', 'memcached')
AUTOCAST = (None, 'bf16', 'bfloat16', 'fp16', 'float16')
BASICSR_SCHEDULERS = ('MultiStepLR', 'MultiStepRestartLR', 'CosineAnnealingRestartLR')
OUR_MODEL = 'ImageRestorationModel'


class _Problems(list):
    """Collects ``key: what is wrong`` lines."""

    def add(self, key, message):
        self.append(f'{key}: {message}')


def _is_int(value):
    """An integer, or a float with an integral value (``4e5``); not a bool."""
    if isinstance(value, bool):
        return False
    return isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())


def _check_int(problems, node, key, path, low=None, required=False):
    if key not in node or node[key] is None:
        if required:
            problems.add(path, 'missing (an integer)')
        return
    value = node[key]
    if not _is_int(value):
        problems.add(path, f'expected an integer, got {value!r}')
    elif low is not None and value < low:
        problems.add(path, f'must be at least {low}, got {value!r}')


def _check_number(problems, node, key, path, low=None, high=None, required=False):
    if key not in node or node[key] is None:
        if required:
            problems.add(path, 'missing (a number)')
        return
    value = node[key]
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
        problems.add(path, f'expected a number, got {value!r}')
    elif (low is not None and value < low) or (high is not None and value > high):
        problems.add(path, f'must be within [{low}, {high}], got {value!r}')


def _check_bool(problems, node, key, path, required=False):
    if key not in node or node[key] is None:
        if required:
            problems.add(path, 'missing (true or false)')
        return
    if not isinstance(node[key], bool):
        problems.add(path, f'expected true or false, got {node[key]!r}')


def _section(problems, opt, key, path, required=False):
    """``opt[key]`` when it is a mapping; None (with a problem if required or not a mapping) otherwise."""
    value = opt.get(key)
    if value is None:
        if required:
            problems.add(path, 'missing (a mapping of options)')
        return None
    if not isinstance(value, dict):
        problems.add(path, f'expected a mapping of options, got {value!r}')
        return None
    return value


def _registered(problems, registry, name, path, what):
    if not isinstance(name, str) or name not in registry:
        known = ', '.join(sorted(n for n, _ in registry))
        problems.add(path, f'{name!r} is not a registered {what} (known: {known})')
        return False
    return True


def build_meta_network(network_opt, key='network_g'):
    """Build ``network_opt`` (``{'type': ..., **kwargs}``) on the meta device: shapes without memory.

    Raises:
        UserError: Unknown arch, or its constructor rejects the arguments.
    """
    from basicsr.utils.registry import ARCH_REGISTRY

    problems = _Problems()
    if not isinstance(network_opt, dict):
        raise UserError(f'{key}: expected a mapping with a type, got {network_opt!r}')
    if not _registered(problems, ARCH_REGISTRY, network_opt.get('type'), f'{key}.type', 'arch'):
        raise UserError(problems[0])
    kwargs = {k: v for k, v in network_opt.items() if k != 'type'}
    try:
        with torch.device('meta'):
            return ARCH_REGISTRY.get(network_opt['type'])(**kwargs)
    except Exception as err:  # the arch's own argument checks: TypeError, ValueError, negative sizes, ...
        raise UserError(f"{key}: cannot build {network_opt['type']} with {kwargs}: "
                        f"{type(err).__name__}: {' '.join(str(err).split())}") from None


def check_checkpoint_fits(net, path, key, strict=True):
    """Read the weights BasicSR's ``load_network`` would read and check they fit ``net`` (shapes only).

    ``key`` is ``path.param_key_g`` (None: the file is a bare state dict); as in BasicSR, a missing key
    falls back to ``params``.

    Raises:
        CheckpointError: Unreadable, code-running, missing the key, or (strict) not fitting ``net``.
    """
    top = load_state(path)
    if key is not None and isinstance(top, dict) and key not in top and 'params' in top:
        key = 'params'
    key, state = state_dict_from(top, path, key)
    if strict:
        check_state_dict_fits(net, state, path, key)
    return key


def _check_network(problems, opt):
    try:
        return build_meta_network(opt.get('network_g'))
    except UserError as err:
        problems.append(str(err))
        return None


def _check_paths(problems, opt, net, is_train, files):
    paths = opt.get('path') or {}
    if not isinstance(paths, dict):
        problems.add('path', f'expected a mapping, got {paths!r}')
        return
    _check_bool(problems, paths, 'strict_load_g', 'path.strict_load_g')
    pretrained = paths.get('pretrain_network_g')
    if pretrained is not None and not isinstance(pretrained, str):
        problems.add('path.pretrain_network_g', f'expected a file path, got {pretrained!r}')
    elif pretrained and net is not None and files:
        try:
            check_checkpoint_fits(net, pretrained, paths.get('param_key_g', 'params'),
                                  strict=paths.get('strict_load_g', True) is not False)
        except UserError as err:
            problems.add('path.pretrain_network_g', str(err))
    elif not pretrained and not is_train:
        problems.add('path.pretrain_network_g', 'testing needs trained weights: set it to a checkpoint (.pth)')


def _check_dataset(problems, phase, dataset, is_train, opt):
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
    _registered(problems, DATASET_REGISTRY, dataset.get('type'), f'{where}.type', 'dataset')
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
        _check_int(problems, dataset, 'gt_size', f'{where}.gt_size', low=1, required=True)
        _check_bool(problems, dataset, 'use_hflip', f'{where}.use_hflip', required=True)
        _check_bool(problems, dataset, 'use_rot', f'{where}.use_rot', required=True)
        _check_int(problems, dataset, 'batch_size_per_gpu', f'{where}.batch_size_per_gpu', low=1, required=True)
        _check_int(problems, dataset, 'num_worker_per_gpu', f'{where}.num_worker_per_gpu', low=0, required=True)
        _check_number(problems, dataset, 'dataset_enlarge_ratio', f'{where}.dataset_enlarge_ratio', low=1)
        if dataset.get('prefetch_mode') not in (None, 'cpu', 'cuda'):
            problems.add(f'{where}.prefetch_mode', f"expected cpu or cuda, got {dataset['prefetch_mode']!r}")
    elif is_train and not phase.startswith('val'):
        problems.add(where, "unknown phase; use 'train' or a name starting with 'val'")


def _build_dataset(problems, phase, dataset, opt, is_train):
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


def _check_train(problems, opt):
    from basicsr.utils.registry import LOSS_REGISTRY

    train = _section(problems, opt, 'train', 'train', required=True)
    if train is None:
        return
    _check_int(problems, train, 'total_iter', 'train.total_iter', low=1, required=True)
    _check_int(problems, train, 'warmup_iter', 'train.warmup_iter', low=-1)
    _check_number(problems, train, 'ema_decay', 'train.ema_decay', low=0, high=0.999999999)
    if opt.get('model_type') != OUR_MODEL:
        return  # another plugin's model reads its own keys
    _check_bool(problems, train, 'use_grad_clip', 'train.use_grad_clip')
    _check_number(problems, train, 'grad_clip_norm', 'train.grad_clip_norm', low=0)
    _check_bool(problems, train, 'channels_last', 'train.channels_last')
    _check_bool(problems, train, 'compile', 'train.compile')
    _check_int(problems, train, 'max_nonfinite_steps', 'train.max_nonfinite_steps', low=1)
    if train.get('autocast') not in AUTOCAST:
        problems.add('train.autocast', f"expected null, bf16 or fp16, got {train['autocast']!r}")
    optimizer = _check_optimizer(problems, train)
    if optimizer is not None:
        from basicsr.utils.registry import MODEL_REGISTRY
        _check_scheduler(problems, train, optimizer, MODEL_REGISTRY.get(OUR_MODEL))
    losses = [k for k in ('pixel_opt', 'perceptual_opt') if train.get(k) is not None]
    if not losses:
        problems.add('train.pixel_opt', 'missing: training needs a loss (e.g. type: PSNRLoss)')
    for key in losses:
        loss = train[key]
        if not isinstance(loss, dict):
            problems.add(f'train.{key}', f'expected a mapping with a type, got {loss!r}')
        elif _registered(problems, LOSS_REGISTRY, loss.get('type'), f'train.{key}.type', 'loss') and key == 'pixel_opt':
            _try(problems, f'train.{key}', lambda: LOSS_REGISTRY.get(loss['type'])(
                **{k: v for k, v in loss.items() if k != 'type'}))


def _try(problems, key, build):
    try:
        return build()
    except Exception as err:  # the constructor's own checks of its arguments
        problems.add(key, f"{type(err).__name__}: {' '.join(str(err).split())}")
        return None


def _check_optimizer(problems, train):
    optim = _section(problems, train, 'optim_g', 'train.optim_g', required=True)
    if optim is None:
        return None
    cls = getattr(torch.optim, str(optim.get('type')), None)
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        problems.add('train.optim_g.type', f"{optim.get('type')!r} is not an optimizer in torch.optim")
        return None
    before = len(problems)
    _check_number(problems, optim, 'lr', 'train.optim_g.lr', low=0, required=True)
    if len(problems) > before:
        return None
    stand_in = torch.zeros(1, requires_grad=True)
    return _try(problems, 'train.optim_g', lambda: cls([stand_in], **{k: v for k, v in optim.items() if k != 'type'}))


def _check_scheduler(problems, train, optimizer, model_cls):
    from basicsr.models import lr_scheduler as basicsr_schedulers

    # the model says which schedulers it builds besides BasicSR's (asked through the registry: the engine
    # sits below the models and imports none of them)
    SCHEDULERS = getattr(model_cls, 'SCHEDULERS', {})
    scheduler = _section(problems, train, 'scheduler', 'train.scheduler', required=True)
    if scheduler is None:
        return
    kind = scheduler.get('type')
    if kind in SCHEDULERS:
        cls = SCHEDULERS[kind]
    elif kind in BASICSR_SCHEDULERS:
        cls = basicsr_schedulers.CosineAnnealingRestartLR if kind.startswith('Cosine') else \
            basicsr_schedulers.MultiStepRestartLR
    else:
        known = ', '.join(list(SCHEDULERS) + list(BASICSR_SCHEDULERS))
        problems.add('train.scheduler.type', f'{kind!r} is not one of {known}')
        return
    _try(problems, 'train.scheduler', lambda: cls(optimizer, **{k: v for k, v in scheduler.items() if k != 'type'}))


def _check_val(problems, opt, is_train):
    from basicsr.utils.registry import METRIC_REGISTRY

    val = _section(problems, opt, 'val', 'val', required=not is_train)
    if val is None:
        return
    if is_train:
        _check_number(problems, val, 'val_freq', 'val.val_freq', low=1, required=True)
    _check_bool(problems, val, 'save_img', 'val.save_img')
    _check_bool(problems, val, 'save_comparison', 'val.save_comparison')
    _check_int(problems, val, 'tile', 'val.tile', low=8)
    _check_int(problems, val, 'tile_overlap', 'val.tile_overlap', low=0)
    _check_int(problems, val, 'crop_size', 'val.crop_size', low=8)
    if val.get('suffix') is not None:
        try:
            check_component(str(val['suffix']), 'val.suffix')
        except UserError as err:
            problems.append(str(err))
    metrics = val.get('metrics') or {}
    if not isinstance(metrics, dict):
        problems.add('val.metrics', f'expected a mapping of metric names to options, got {metrics!r}')
        return
    for name, metric in metrics.items():
        if not isinstance(metric, dict):
            problems.add(f'val.metrics.{name}', f'expected a mapping with a type, got {metric!r}')
        else:
            _registered(problems, METRIC_REGISTRY, metric.get('type'), f'val.metrics.{name}.type', 'metric')


def _check_top_level(problems, opt):
    from basicsr.utils.registry import MODEL_REGISTRY

    try:
        check_component(opt.get('name'), 'name')
    except UserError as err:
        problems.append(str(err))
    _registered(problems, MODEL_REGISTRY, opt.get('model_type'), 'model_type', 'model')
    _check_int(problems, opt, 'scale', 'scale', low=1)
    _check_int(problems, opt, 'manual_seed', 'manual_seed', low=0)
    num_gpu = opt.get('num_gpu', 'auto')
    if num_gpu != 'auto':
        _check_int(problems, opt, 'num_gpu', 'num_gpu', low=0)
    logger = _section(problems, opt, 'logger', 'logger') or {}
    _check_int(problems, logger, 'print_freq', 'logger.print_freq', low=1)
    _check_int(problems, logger, 'save_checkpoint_freq', 'logger.save_checkpoint_freq', low=1)
    _check_bool(problems, logger, 'use_tb_logger', 'logger.use_tb_logger')
    dist_params = _section(problems, opt, 'dist_params', 'dist_params') or {}
    if dist_params.get('backend') not in (None, 'nccl', 'gloo'):
        problems.add('dist_params.backend', f"expected nccl or gloo, got {dist_params['backend']!r}")


def validate_options(opt, is_train, source='options', files=True):
    """Check parsed options (after ``--force_yml``) against what the pipeline will read.

    Args:
        opt (dict): The options, with ``datasets.*.phase``/``scale`` and ``world_size`` filled in.
        is_train (bool): Training (``train.py``) or testing (``test.py``).
        source (str): The option file, for the message.
        files (bool): Also read what the options point at: the checkpoint (does it fit the network?)
            and the datasets (can BasicSR list them, do they make one batch?). False checks the values only.

    Raises:
        OptionsError: Every problem found, one ``key: what is wrong`` line each.
    """
    problems = _Problems()
    _check_top_level(problems, opt)
    net = _check_network(problems, opt)
    datasets = _section(problems, opt, 'datasets', 'datasets', required=True) or {}
    if opt.get('datasets') is not None and not datasets:
        problems.add('datasets', 'no dataset given')
    for phase, dataset in datasets.items():
        _check_dataset(problems, phase, dataset, is_train, opt)
    if is_train:
        if datasets and 'train' not in datasets:
            problems.add('datasets.train', 'missing: training needs a train dataset')
        _check_train(problems, opt)
    _check_val(problems, opt, is_train)
    _check_paths(problems, opt, net, is_train, files)
    if files and not problems:  # only worth listing files once the options themselves are sound
        for phase, dataset in datasets.items():
            _build_dataset(problems, phase, dataset, opt, is_train)
    if problems:
        count = f'{len(problems)} problems' if len(problems) > 1 else 'a problem'
        raise OptionsError(f'{source}: {count} with the options:\n' + '\n'.join(problems))
