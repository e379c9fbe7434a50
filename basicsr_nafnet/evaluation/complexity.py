"""Size and cost of a network: parameters and multiply-accumulates at a fixed input size.

MACs come from ``mmengine.analysis`` (the counter of the OpenMMLab/BasicSR ecosystem). Its
``flops`` entry counts multiply-accumulates of convolutions, linear layers, normalisations and
poolings; bias additions, residual additions, element-wise products (SimpleGate, attention
scaling) and activations are not counted.
"""
import copy
import logging

import torch

__all__ = ['MACS_INPUT', 'MACS_NOTE', 'count_params', 'count_macs']

MACS_INPUT = (1, 3, 256, 256)
MACS_NOTE = ('MACs: multiply-accumulates at 1x3x256x256 counted by mmengine.analysis; bias additions, '
             'residual additions, element-wise products and activations are not counted.')


def count_params(net):
    """Number of parameters (all, trainable or not)."""
    return sum(p.numel() for p in net.parameters())


def count_macs(net, input_shape=MACS_INPUT):
    """Multiply-accumulates of one forward pass at ``input_shape`` (N x C x H x W), on the CPU.

    Args:
        net (nn.Module): The network (copied; the original is untouched).
        input_shape (tuple[int]): Input size. Default: 1 x 3 x 256 x 256.

    Returns:
        int: MACs, as mmengine counts them (see the module docstring).
    """
    from mmengine.analysis import FlopAnalyzer
    from mmengine.logging import MMLogger

    net = copy.deepcopy(net).cpu().eval()
    # mmengine warns once per operator it does not count; the docstring says which those are
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with torch.no_grad():
            analyzer = FlopAnalyzer(net, (torch.zeros(input_shape), ))
            analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            return int(analyzer.total())
    finally:
        logger.setLevel(level)
