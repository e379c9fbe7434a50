"""What the benchmarks measure: the archs at their GoPro configurations, and one tiny-config table.

The GoPro configurations are read from this project's option files (NAFNet-width32 and Baseline-width32,
built plain and as their TLC variants); ``ResidualCNN`` and ``DeblurUNet`` run at their defaults.
:data:`TINY_CONFIGS` is the one table of tiny networks, shared by the test suite and ``--quick``.
"""
import contextlib
import os
from collections import OrderedDict

import torch

from ..engine.options import OptionsError, load_options, project_option_file

__all__ = ['TINY_CONFIGS', 'gopro_configs', 'build_arch', 'configs_from_option_file', 'compile_without_codegen',
           'dry_run_context']

_TINY_UNET = dict(width=8, enc_blk_nums=[1, 1], middle_blk_num=1, dec_blk_nums=[1, 1])
# a tiny configuration of every arch we register: the tests fail if one is missing
TINY_CONFIGS = OrderedDict([
    ('NAFNet', dict(_TINY_UNET)),
    ('NAFNetLocal', dict(_TINY_UNET, train_size=[1, 3, 16, 16])),
    ('Baseline', dict(_TINY_UNET, dw_expand=2)),
    ('BaselineLocal', dict(_TINY_UNET, dw_expand=2, train_size=[1, 3, 16, 16])),
    ('ResidualCNN', dict(num_feat=8, num_block=2)),
    ('DeblurUNet', dict(_TINY_UNET)),
])


def _network_args(relative):
    """``network_g`` of one of our option files without ``type`` and the TLC-only arguments."""
    network = dict(load_options(project_option_file(relative))['network_g'])
    for key in ('type', 'train_size', 'fast_imp'):
        network.pop(key, None)
    return network


def gopro_configs():
    """``{arch: arguments}`` at the GoPro configurations of the official width-32 option files."""
    nafnet = _network_args('train/GoPro/NAFNet-width32.yml')
    baseline = _network_args('train/GoPro/Baseline-width32.yml')
    tlc = dict(train_size=[1, 3, 256, 256])
    return OrderedDict([('NAFNet', nafnet), ('NAFNetLocal', dict(nafnet, **tlc)), ('Baseline', baseline),
                        ('BaselineLocal', dict(baseline, **tlc)), ('ResidualCNN', dict()), ('DeblurUNet', dict())])


def build_arch(name, config, device):
    """Build a registered arch with ``config`` on ``device`` in eval mode, with non-zero beta/gamma.

    beta and gamma start at zero, which would make every block the identity and leave its branches
    out of the accuracy columns; small random values make the comparison meaningful.
    """
    from basicsr.archs import build_network
    torch.manual_seed(0)
    net = build_network({'type': name, **config})
    with torch.no_grad():
        for pname, p in net.named_parameters():
            if pname.endswith(('beta', 'gamma')):
                p.normal_(0, 0.1)
    return net.to(device).eval()


def configs_from_option_file(path):
    """``({name: network_g}, (gt_size, gt_size), batch_size_per_gpu)`` of a BasicSR training option file.

    The name is the file's ``name`` (e.g. NAFNet-demo); training size and batch are those of its
    ``datasets.train`` (None where the file has no training set).
    """
    opt = load_options(path)
    network = dict(opt.get('network_g') or {})
    if 'type' not in network:
        raise OptionsError(f'{path}: no network_g.type to benchmark')
    train = (opt.get('datasets') or {}).get('train') or {}
    size = train.get('gt_size')
    name = opt.get('name') or os.path.splitext(os.path.basename(path))[0]
    return {name: network}, ((size, size) if size else None), train.get('batch_size_per_gpu')


@contextlib.contextmanager
def compile_without_codegen():
    """Inside, ``torch.compile`` captures graphs with dynamo's 'eager' backend and generates no code.

    For dry runs: every compiled path runs through dynamo (so a model it cannot trace fails there too) in
    seconds on any machine, where inductor would take minutes and need a compiler.
    """
    real = torch.compile

    def compile(model=None, **kwargs):
        return real(model, **dict(kwargs, backend='eager'))

    torch.compile = compile
    try:
        yield
    finally:
        torch.compile = real


@contextlib.contextmanager
def dry_run_context():
    """What a dry run changes while it runs: :func:`compile_without_codegen`, and one CPU thread.

    A dry run's numbers mean nothing. On a shared 2-core machine whose other core was busy, a tiny NAFNet
    training step took 2.7 s with two threads and 14 ms with one (OpenMP threads waiting for each other).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with compile_without_codegen():
            yield
    finally:
        torch.set_num_threads(threads)
