"""NAFNet computed the way the official release computes it, as the speed reference of the float32 targets.

Our eager network already differs from the official code in ways that are faster (LayerNorm2d as one function
with ``addcmul``, the channels_last ``layer_norm``), so "N x eager" would flatter nothing but also compare
against the wrong thing. :func:`plain_forward` runs the same parameters through the operations the official
NAFNet code uses at test time (written here from the paper's and release's formulas): LayerNorm2d as mean,
``(x - mu).pow(2).mean``, divide by ``sqrt(var + eps)``, then scale and shift; SimpleGate as ``chunk`` and
multiply; ``x * sca(x)``; ``inp + x * beta``; padding with ``F.pad``; all float32 NCHW under ``no_grad``.
"""
import torch
import torch.nn.functional as F

from ..archs.nafnet_arch import NAFBlock, NAFNet
from .layernorm import plain_layer_norm

__all__ = ['is_plain_nafnet', 'plain_forward', 'plain_runner']


def _layer_norm(norm, x):
    return plain_layer_norm(x, norm.weight, norm.bias, norm.eps)


def _gate(x):
    x1, x2 = x.chunk(2, dim=1)
    return x1 * x2


def _block(block, inp):
    x = block.conv2(block.conv1(_layer_norm(block.norm1, inp)))
    x = _gate(x)
    x = block.conv3(x * block.sca(x))
    y = inp + x * block.beta
    x = block.conv5(_gate(block.conv4(_layer_norm(block.norm2, y))))
    return y + x * block.gamma


def _stage(stage, x):
    for block in stage:
        x = _block(block, x)
    return x


def is_plain_nafnet(net):
    """Whether :func:`plain_forward` computes ``net``: a NAFNet (not its TLC variant, whose pooling is local)."""
    return type(net) is NAFNet and all(isinstance(b, NAFBlock) for _, stage in net.stages_by_level() for b in stage)


def plain_forward(net, inp):
    """``net`` (a :class:`~basicsr_nafnet.archs.nafnet_arch.NAFNet`) on ``inp`` the official way; same result."""
    if not is_plain_nafnet(net):
        raise TypeError(f'plain_forward computes NAFNet, got {type(net).__name__}')
    h, w = inp.shape[-2:]
    size = net.padder_size
    inp = F.pad(inp, (0, (size - w % size) % size, 0, (size - h % size) % size))
    x = net.intro(inp)
    skips = []
    for encoder, down in zip(net.encoders, net.downs):
        x = _stage(encoder, x)
        skips.append(x)
        x = down(x)
    x = _stage(net.middle_blks, x)
    for up, decoder, skip in zip(net.ups, net.decoders, reversed(skips)):
        x = _stage(decoder, up(x) + skip)
    x = net.ending(x) + inp
    return x[:, :, :h, :w]


def plain_runner(net):
    """A float32-in, float32-out callable: :func:`plain_forward` of ``net`` in eval mode without autograd."""
    net.eval()

    def run(x):
        with torch.no_grad():
            return plain_forward(net, x)

    return run
