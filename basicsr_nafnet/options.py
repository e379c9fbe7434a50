"""Reading BasicSR option files safely, translating official NAFNet keys, checking paths.

BasicSR 1.4.2 reads option files with PyYAML's full loader (``!!python/object/apply`` runs code)
and applies ``--force_yml`` values with ``eval``/``exec``. Here YAML is parsed with the safe loader
only, and ``--force_yml`` values are parsed as YAML scalars.
"""
import os
import warnings

import yaml

__all__ = ['OptionsError', 'load_options', 'normalize_options', 'check_paths', 'apply_force_yml']


class OptionsError(ValueError):
    """An option file that cannot be used, with the file and key in the message."""


def load_options(path):
    """Parse an option file with the safe YAML loader; refuse Python object tags with a clear error."""
    try:
        with open(path, encoding='utf-8') as f:
            opt = yaml.safe_load(f)
    except FileNotFoundError:
        raise OptionsError(f'option file not found: {path}') from None
    except yaml.constructor.ConstructorError as err:
        mark = err.problem_mark
        where = f' (line {mark.line + 1})' if mark is not None else ''
        raise OptionsError(f'{path}{where}: refused to build a Python object from YAML ({err.problem}); '
                           'option files may only hold plain values, lists and mappings') from None
    except yaml.YAMLError as err:
        raise OptionsError(f'{path}: not valid YAML: {err}') from None
    if not isinstance(opt, dict):
        raise OptionsError(f'{path}: expected a mapping of options at the top level, got {type(opt).__name__}')
    return opt


# keys upstream BasicSR renamed since the official NAFNet fork: old -> new
_RENAMED_DATASET_KEYS = {'use_flip': 'use_hflip'}


def normalize_options(opt, source='options'):
    """Translate keys of official NAFNet option files and fill defaults BasicSR would ``KeyError`` on.

    Works in place and returns ``opt``; each translation is reported once with ``warnings.warn``.
    """
    for phase, dataset in (opt.get('datasets') or {}).items():
        for old, new in _RENAMED_DATASET_KEYS.items():
            if old in dataset:
                value = dataset.pop(old)
                dataset.setdefault(new, value)
                warnings.warn(f"{source}: datasets.{phase}.{old} is called '{new}' in BasicSR; translated")
    logger = opt.setdefault('logger', {})
    logger.setdefault('print_freq', 100)
    logger.setdefault('save_checkpoint_freq', 5000)
    logger.setdefault('use_tb_logger', False)
    opt.setdefault('path', {})
    val = opt.get('val')
    if val is not None:
        val.setdefault('save_img', False)
        val.setdefault('suffix', None)
        for name, metric in (val.get('metrics') or {}).items():
            # the official NAFNet code's calculate_ssim defaults to the 3-D SSIM of the published numbers
            if metric.get('type') == 'calculate_ssim' and opt.get('model_type') == 'ImageRestorationModel':
                if metric.pop('ssim3d', True):
                    metric['type'] = 'calculate_ssim_3d'
                    warnings.warn(f"{source}: val.metrics.{name}: calculate_ssim of an ImageRestorationModel file means "
                                  "the 3-D SSIM of the published GoPro numbers (as in official NAFNet): using "
                                  "calculate_ssim_3d; set 'ssim3d: false' for BasicSR's per-channel SSIM")
    return opt


def check_paths(opt, source='options'):
    """Fail early, naming the key and the path, when a dataroot or checkpoint does not exist."""
    missing = []
    for phase, dataset in (opt.get('datasets') or {}).items():
        for key in ('dataroot_gt', 'dataroot_lq', 'meta_info_file'):
            path = dataset.get(key)
            if path is not None and not os.path.exists(path):
                missing.append(f'datasets.{phase}.{key}: {path}')
    for key, path in (opt.get('path') or {}).items():
        if path is not None and (key.startswith('pretrain_network') or key == 'resume_state'):
            if not os.path.isfile(path):
                missing.append(f'path.{key}: {path}')
    if missing:
        raise OptionsError(f'{source}: these paths do not exist:\n  ' + '\n  '.join(missing) +
                           '\n(paths are relative to the current directory; see datasets/README.md to prepare data)')


def apply_force_yml(opt, entry):
    """Apply one ``--force_yml`` entry ``key:sub_key=value``; the value is parsed as YAML, never evaluated."""
    if '=' not in entry:
        raise OptionsError(f"--force_yml entry '{entry}' must look like key:sub_key=value")
    keys, text = entry.split('=', 1)
    *parents, last = keys.strip().split(':')
    node = opt
    for key in parents:
        if not isinstance(node.get(key), dict):
            raise OptionsError(f"--force_yml: '{keys}' does not name an existing option ('{key}' is missing)")
        node = node[key]
    try:
        value = yaml.safe_load(text.strip())
    except yaml.YAMLError as err:
        raise OptionsError(f'--force_yml: cannot parse the value of {keys}: {err}') from None
    node[last] = _number_if_numeric(value)
    return opt


def _number_if_numeric(value):
    """PyYAML reads ``3e-3`` (no dot) as a string; on the command line it means the number."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return value
