"""Checking options against what BasicSR and our model will read, before the pipeline creates anything.

BasicSR reads options lazily: an unknown arch, a string where a number belongs, a checkpoint that
does not fit or a dataset too small for one batch surfaces as a ``KeyError`` or ``TypeError`` after
the experiment folder was created and an older one renamed aside. :func:`validate_options` finds
all of that first and raises one :class:`~basicsr_nafnet.engine.options.OptionsError` listing every
problem by its key. Networks are built on the ``meta`` device (shapes only, no memory), optimizers,
schedulers and losses on a one-element stand-in, datasets as BasicSR builds them (folder listings
and LMDB key lists, no image is decoded). The checks themselves live in ``checks/``, one module per concern.
"""
import warnings

from .checks.datasets import build_dataset, check_dataset
from .checks.keys import unknown_keys
from .checks.network import build_meta_network, check_checkpoint_fits, check_network, check_pretrained
from .checks.run import check_top_level, check_val
from .checks.training import check_train
from .checks.values import Problems, section
from .options import OptionsError

__all__ = ['validate_options', 'warn_unknown_keys', 'build_meta_network', 'check_checkpoint_fits']


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
    warn_unknown_keys(opt, source)
    problems = Problems()
    check_top_level(problems, opt)
    net = check_network(problems, opt)
    datasets = section(problems, opt, 'datasets', 'datasets', required=True) or {}
    if opt.get('datasets') is not None and not datasets:
        problems.add('datasets', 'no dataset given')
    for phase, dataset in datasets.items():
        check_dataset(problems, phase, dataset, is_train, opt)
    if is_train:
        if datasets and 'train' not in datasets:
            problems.add('datasets.train', 'missing: training needs a train dataset')
        check_train(problems, opt)
    check_val(problems, opt, is_train)
    check_pretrained(problems, opt, net, is_train, files)
    if files and not problems:  # only worth listing files once the options themselves are sound
        for phase, dataset in datasets.items():
            build_dataset(problems, phase, dataset, opt, is_train)
    if problems:
        count = f'{len(problems)} problems' if len(problems) > 1 else 'a problem'
        raise OptionsError(f'{source}: {count} with the options:\n' + '\n'.join(problems))


def warn_unknown_keys(opt, source='options'):
    """One warning per key that nothing reads, naming the nearest known key (a typo is otherwise silently ignored)."""
    for key, near in unknown_keys(opt):
        shown = key if len(key) <= 100 else f'{key[:100]}... ({len(key)} characters)'
        hint = f'; did you mean {near}?' if near else ''
        warnings.warn(f'{source}: {shown}: unknown key, ignored{hint}', stacklevel=2)
