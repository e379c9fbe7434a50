"""Tiny networks shared by test folders: the arch table, one NAFNet spec and its checkpoint.

A helper module at the tests' root (its folder is on sys.path through the root conftest), not a test module:
tests import from here instead of from each other or from ``conftest``.
"""
import torch
from basicsr.archs import build_network

# the one table of tiny configurations, shared with the benchmarks' --quick; test_archs.py fails if an arch is missing
from basicsr_nafnet.bench.configs import TINY_CONFIGS as TINY_ARCH_CONFIGS  # noqa: F401

TINY_ARGS = dict(width=8, enc_blk_nums=[1, 1], middle_blk_num=1, dec_blk_nums=[1, 1])
TINY_SPEC = 'NAFNet:width=8,enc_blk_nums=[1,1],middle_blk_num=1,dec_blk_nums=[1,1]'


def tiny_checkpoint(path, seed=0):
    """An official-format checkpoint ({'params': ...}) of a tiny NAFNet with active blocks."""
    torch.manual_seed(seed)
    net = build_network(dict(type='NAFNet', **TINY_ARGS))
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(('beta', 'gamma')):
                p.uniform_(-0.2, 0.2)
        net.ending.weight.mul_(0.05)  # keep the output near the input, as a trained net would
    torch.save({'params': net.state_dict()}, path)
    return net.eval()
