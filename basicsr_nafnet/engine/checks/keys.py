"""Option keys nobody reads: a misspelled ``use_hfilp`` is silently ignored by BasicSR, so name it with the key meant.

Users add keys of their own (notes, settings of their plugins), so an unknown key is a warning, not an error. The
known keys are the ones BasicSR 1.4.2 (train/test pipelines, its models, ``build_dataloader``, PairedImageDataset)
and this project's model read, plus the ones the pipeline adds itself. ``path`` is checked strictly elsewhere
(``checks/network.py``: BasicSR makes a folder for every unknown path key), ``network_g`` by building it, metrics by
their signatures.
"""
import difflib

__all__ = ['KNOWN_KEYS', 'unknown_keys']

# what the pipeline adds before the checks run (parse_options), and what BasicSR reads at the top level
_TOP = ('name', 'model_type', 'scale', 'num_gpu', 'manual_seed', 'datasets', 'network_g', 'path', 'train', 'val',
        'logger', 'dist_params', 'find_unused_parameters', 'network_d',
        'is_train', 'dist', 'rank', 'world_size', 'auto_resume', 'root_path')
_TRAIN = ('optim_g', 'scheduler', 'total_iter', 'warmup_iter', 'pixel_opt', 'perceptual_opt', 'ema_decay',
          # ImageRestorationModel (models/rules.py)
          'use_grad_clip', 'grad_clip_norm', 'autocast', 'channels_last', 'compile', 'max_nonfinite_steps',
          # BasicSR's GAN models (SRGANModel and its kind)
          'optim_d', 'gan_opt', 'net_d_iters', 'net_d_init_iters')
_VAL = ('val_freq', 'save_img', 'save_comparison', 'suffix', 'metrics', 'pbar', 'tile', 'tile_overlap', 'crop_size',
        'grids')
_LOGGER = ('print_freq', 'save_checkpoint_freq', 'use_tb_logger', 'wandb')
_WANDB = ('project', 'resume_id')
_DIST_PARAMS = ('backend', 'port')
# PairedImageDataset and build_dataloader; 'phase' and 'scale' are filled in by the pipeline
_PAIRED_DATASET = ('name', 'type', 'dataroot_gt', 'dataroot_lq', 'meta_info_file', 'filename_tmpl', 'io_backend',
                   'gt_size', 'use_hflip', 'use_rot', 'use_shuffle', 'num_worker_per_gpu', 'batch_size_per_gpu',
                   'dataset_enlarge_ratio', 'prefetch_mode', 'num_prefetch_queue', 'pin_memory', 'persistent_workers',
                   'color', 'mean', 'std', 'phase', 'scale')

KNOWN_KEYS = {'': _TOP, 'train': _TRAIN, 'val': _VAL, 'logger': _LOGGER, 'logger.wandb': _WANDB,
              'dist_params': _DIST_PARAMS, 'datasets.*': _PAIRED_DATASET}


def _sections(opt):
    """(dotted name, the mapping, its known keys) for every section checked here."""
    yield '', opt, KNOWN_KEYS['']
    for name in ('train', 'val', 'logger', 'dist_params'):
        if isinstance(opt.get(name), dict):
            yield name, opt[name], KNOWN_KEYS[name]
    logger = opt.get('logger')
    if isinstance(logger, dict) and isinstance(logger.get('wandb'), dict):
        yield 'logger.wandb', logger['wandb'], KNOWN_KEYS['logger.wandb']
    datasets = opt.get('datasets')
    for phase, dataset in (datasets.items() if isinstance(datasets, dict) else ()):
        # other dataset types (BasicSR's video sets, other plugins') read keys of their own
        if isinstance(dataset, dict) and dataset.get('type') == 'PairedImageDataset':
            yield f'datasets.{phase}', dataset, KNOWN_KEYS['datasets.*']


def unknown_keys(opt):
    """Keys no reader of ``opt`` knows, each with the nearest known key of its section.

    Returns:
        list[tuple[str, str | None]]: (dotted key, nearest known key or None), in file order.
    """
    found = []
    for where, node, known in _sections(opt):
        for key in node:
            if key not in known:
                near = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
                found.append((f'{where}.{key}' if where else str(key), near[0] if near else None))
    return found
