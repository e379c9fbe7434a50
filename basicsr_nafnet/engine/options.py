"""Reading BasicSR option files safely, translating official NAFNet keys, checking paths.

BasicSR 1.4.2 reads option files with PyYAML's full loader (``!!python/object/apply`` runs code)
and applies ``--force_yml`` values with ``eval``/``exec``. Here YAML is parsed with the safe loader
only, and ``--force_yml`` values are parsed as YAML scalars.
"""
import os
import re
import warnings

import yaml

from ..errors import UserError, one_line

__all__ = [
    'OptionsError', 'OptionLoader', 'OPTION_SUFFIXES', 'load_options', 'normalize_options', 'check_paths',
    'apply_force_yml', 'check_num_gpu', 'options_root', 'project_option_file', 'project_option_files',
    'resolve_option_file'
]

OPTION_SUFFIXES = ('.yml', '.yaml')


class OptionsError(UserError):
    """An option file that cannot be used, with the file and key in the message."""


class OptionLoader(yaml.SafeLoader):
    """PyYAML's safe loader (plain values, lists and mappings only) that also reads ``1e-3`` as a number.

    PyYAML follows YAML 1.1, where a float needs a dot (``1.0e-3``), so ``lr: 1e-3`` would be the string
    '1e-3' and fail deep inside the optimizer; YAML 1.2 and every user mean the number.
    """


OptionLoader.add_implicit_resolver(
    'tag:yaml.org,2002:float',
    re.compile(r'^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$'), list('-+0123456789'))


def load_options(path):
    """Parse an option file with the safe YAML loader; refuse Python object tags with a clear error."""
    if os.path.isdir(path):
        raise OptionsError(f'option file {path}: is a folder, not a YAML file')
    try:
        with open(path, encoding='utf-8') as f:
            text = f.read()
        _check_aliases(yaml.compose(text, Loader=OptionLoader), path)  # before building: a bomb stays a small graph
        opt = yaml.load(text, Loader=OptionLoader)
    except FileNotFoundError:
        raise OptionsError(f'option file not found: {path}') from None
    except UnicodeDecodeError:
        raise OptionsError(f'option file {path}: not a text file (not UTF-8)') from None
    except yaml.constructor.ConstructorError as err:
        mark = err.problem_mark
        where = f' (line {mark.line + 1})' if mark is not None else ''
        raise OptionsError(f'{path}{where}: refused to build a Python object from YAML ({err.problem}); '
                           'option files may only hold plain values, lists and mappings') from None
    except yaml.YAMLError as err:
        mark = getattr(err, 'problem_mark', None)
        where = f' (line {mark.line + 1})' if mark is not None else ''
        raise OptionsError(f'{path}{where}: not valid YAML: {one_line_yaml(err)}') from None
    if not isinstance(opt, dict):
        raise OptionsError(f'{path}: expected a mapping of options at the top level, got {type(opt).__name__}')
    return opt


# values an option file may expand to through aliases (``*name``); the largest shipped file holds a few hundred
MAX_EXPANDED_VALUES = 100_000


def _check_aliases(root, path):
    """Refuse aliases that refer to themselves or expand past :data:`MAX_EXPANDED_VALUES` (a "billion laughs")."""
    sizes, open_nodes = {}, set()

    def size(node):
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in open_nodes:
            raise OptionsError(f'{path} (line {node.start_mark.line + 1}): an alias refers to the value that holds it')
        open_nodes.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        else:
            total = 1
        open_nodes.discard(id(node))
        if total > MAX_EXPANDED_VALUES:
            raise OptionsError(f'{path}: aliases expand to more than {MAX_EXPANDED_VALUES} values; '
                               'write the options out instead')
        sizes[id(node)] = total
        return total

    if root is not None:
        size(root)


# keys upstream BasicSR renamed since the official NAFNet fork: old -> new
_RENAMED_DATASET_KEYS = {'use_flip': 'use_hflip'}


def normalize_options(opt, source='options'):
    """Translate keys of official NAFNet option files and fill defaults BasicSR would ``KeyError`` on.

    Works in place and returns ``opt``; each translation is reported once with ``warnings.warn``.
    """
    datasets = opt.get('datasets')
    for phase, dataset in (datasets.items() if isinstance(datasets, dict) else ()):
        if not isinstance(dataset, dict):
            continue  # validate_options names it
        for old, new in _RENAMED_DATASET_KEYS.items():
            if old in dataset:
                value = dataset.pop(old)
                dataset.setdefault(new, value)
                warnings.warn(f"{source}: datasets.{phase}.{old} is called '{new}' in BasicSR; translated")
    opt.setdefault('scale', 1)  # deblurring keeps the size; BasicSR's paired dataset reads it
    logger = opt.setdefault('logger', {})
    if not isinstance(logger, dict):
        return opt  # validate_options names it
    logger.setdefault('print_freq', 100)
    logger.setdefault('save_checkpoint_freq', 5000)
    logger.setdefault('use_tb_logger', False)
    opt.setdefault('path', {})
    val = opt.get('val')
    if isinstance(val, dict):
        val.setdefault('save_img', False)
        val.setdefault('suffix', None)
        metrics = val.get('metrics')
        ours = opt.get('model_type') == 'ImageRestorationModel'
        for name, metric in (metrics.items() if isinstance(metrics, dict) and ours else ()):
            # the official NAFNet code's calculate_ssim defaults to the 3-D SSIM of the published numbers
            if isinstance(metric, dict) and metric.get('type') == 'calculate_ssim':
                if metric.pop('ssim3d', True):
                    metric['type'] = 'calculate_ssim_3d'
                    warnings.warn(f"{source}: val.metrics.{name}: calculate_ssim of an ImageRestorationModel file "
                                  "means the 3-D SSIM of the published GoPro numbers (as in official NAFNet): using "
                                  "calculate_ssim_3d; set 'ssim3d: false' for BasicSR's per-channel SSIM")
    return opt


# GPUs per machine (BasicSR's num_gpu counts those of one node); more is a typo or a pasted number
MAX_GPUS = 1024


def check_num_gpu(value, source='options'):
    """``num_gpu`` as BasicSR reads it: 'auto' or a whole number of GPUs, 0 for the CPU.

    A count larger than what this machine has is not an error here (the caller runs on the CPU without CUDA, with a
    warning); a negative, fractional, text or absurd count is.

    Raises:
        OptionsError: Naming num_gpu and the value.
    """
    if value == 'auto':
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_GPUS:
        raise OptionsError(f'{source}: num_gpu: expected auto or a whole number of GPUs from 0 (the CPU) to '
                           f'{MAX_GPUS}, '
                           f'got {value!r:.80}')
    return value


def check_paths(opt, source='options'):
    """Fail early, naming the key and the path, when a dataroot or checkpoint does not exist."""
    missing, given = [], []
    datasets, paths = opt.get('datasets'), opt.get('path')
    for phase, dataset in (datasets.items() if isinstance(datasets, dict) else ()):
        for key in ('dataroot_gt', 'dataroot_lq', 'meta_info_file'):
            path = dataset.get(key) if isinstance(dataset, dict) else None
            if isinstance(path, str):
                given.append((f'datasets.{phase}.{key}', path))
                if path.strip() and not os.path.exists(path):
                    missing.append(f'datasets.{phase}.{key}: {path}')
    for key, path in (paths.items() if isinstance(paths, dict) else ()):
        if isinstance(key, str) and isinstance(path, str) and key.startswith(('pretrain_network', 'resume_state')):
            given.append((f'path.{key}', path))
            if path.strip() and not os.path.isfile(path):
                missing.append(f'path.{key}: {path}' + (' is a folder' if os.path.isdir(path) else ''))
    empty = [key for key, path in given if not path.strip()]
    if empty:  # '' is no path at all: say so by key, not "these paths do not exist: datasets.train.dataroot_gt: "
        raise OptionsError(f"{source}: {', '.join(empty)}: an empty path; give a path, or ~ (null) where the option "
                           'is optional')
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
        value = yaml.load(text.strip(), Loader=OptionLoader)
    except yaml.YAMLError as err:
        raise OptionsError(f'--force_yml: cannot parse the value of {keys}: {one_line_yaml(err)}') from None
    node[last] = value
    return opt


def one_line_yaml(err):
    """A PyYAML error without its multi-line context drawing."""
    return one_line(getattr(err, 'problem', None) or err)


def options_root():
    """The folder of this project's option files: the checkout's ``options/``, or the copy a wheel installs.

    A wheel ships the one top-level ``options/`` folder as ``basicsr_nafnet/_options`` (see ``setup.py``);
    a checkout or an editable install reads ``options/`` beside the package.
    """
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    installed = os.path.join(package, '_options')
    return installed if os.path.isdir(installed) else os.path.join(os.path.dirname(package), 'options')


def project_option_file(relative):
    """Path of one of this project's option files, e.g. ``'demo/NAFNet-demo.yml'``.

    Raises:
        OptionsError: The file is not there (an incomplete install).
    """
    path = os.path.join(options_root(), *relative.split('/'))
    if not os.path.isfile(path):
        raise OptionsError(f'option file not found: {path} (this installation of basicsr_nafnet lacks its options/)')
    return path


def project_option_files(prefer='test'):
    """``{name: path}`` of the option files this project ships (the name is the file stem).

    Args:
        prefer (str): Which twin a name in both ``test/`` and ``train/`` means: ``'test'`` (the default: the
            one that names trained weights, as model specs want) or ``'train'`` (as ``train -opt NAME`` wants).
    """
    root = options_root()
    other = 'train' if prefer == 'test' else 'test'
    found = {}
    walk = sorted(os.walk(root), key=lambda w: (os.path.relpath(w[0], root).split(os.sep)[0] == other, w[0]))
    for folder, _, files in walk:
        for f in sorted(files):
            if f.endswith(OPTION_SUFFIXES):
                found.setdefault(os.path.splitext(f)[0], os.path.join(folder, f))
    return found


def resolve_option_file(text, prefer='test', key='-opt'):
    """The option file ``text`` names: a path as given, or the name of a shipped file (``NAFNet-GoPro``).

    A value that exists, ends in .yml/.yaml or holds a folder separator is a path (a missing one is reported
    by :func:`load_options`); any other value is looked up among :func:`project_option_files`.

    Raises:
        OptionsError: Neither a file nor a shipped name; the message lists the names.
    """
    if os.path.exists(text) or text.lower().endswith(OPTION_SUFFIXES) or '/' in text or os.sep in text:
        return text
    shipped = project_option_files(prefer)
    if text in shipped:
        return shipped[text]
    raise OptionsError(f"{key} {text}: no such file, nor an option file this project ships; "
                       f"known names: {', '.join(sorted(shipped))}")
