"""Training in ``channels_last`` with parameter strides that match their gradients (so DDP's buckets match).

DDP gives each parameter a view into its gradient bucket with the parameter's own strides, and warns
"Grad strides do not match bucket view strides" (and copies every gradient into its bucket) when the
gradient that autograd hands over has other strides. ``net.to(memory_format=torch.channels_last)``
restrides *every* 4-D parameter, also NAFNet's ``beta``/``gamma`` (1 x C x 1 x 1): their memory order is
the same in both formats, but their strides change in the size-1 dimensions, while the broadcast
multiplication they take part in produces gradients with contiguous strides. Autograd ignores size-1
strides when it decides whether a gradient can be used as it is; DDP compares all of them. Convolution
kernels, on the other hand, return channels_last weight gradients for channels_last inputs. So only
convolution weights are converted here.
"""
import torch
from torch import nn

__all__ = ['to_channels_last']


def to_channels_last(net):
    """Put every convolution weight of ``net`` in ``channels_last``, in place; other parameters keep their strides.

    Args:
        net (nn.Module): The network, on its device, before DDP wraps it.

    Returns:
        nn.Module: ``net``.
    """
    for module in net.modules():
        if isinstance(module, nn.modules.conv._ConvNd) and module.weight.dim() == 4:
            # Module._apply swaps the parameter's data in place, so optimizers and hooks keep the same Parameter
            module.to(memory_format=torch.channels_last)
    return net
