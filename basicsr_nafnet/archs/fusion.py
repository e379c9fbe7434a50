"""Deploy-mode fusion for the NAF-style UNets (NAFNet, Baseline and their TLC variants).

Inference does not need several operations the training graph has, because they are affine maps
sitting next to 1x1 convolutions:

* the LayerNorm2d affine (``weight``, ``bias``) is folded into the 1x1 conv after it
  (``norm1`` -> ``conv1``, ``norm2`` -> ``conv4``): ``W (w * x_hat + b) + c = (W diag w) x_hat + (W b + c)``;
* ``beta`` and ``gamma`` are folded into the 1x1 conv before them (``conv3``, ``conv5``):
  ``(W x + c) * beta = (diag(beta) W) x + beta * c``;
* dropout is the identity at inference and is dropped;
* the channel attention ``conv3(x * s)`` with a per-image scale ``s`` (global pooling) becomes one
  batched matmul with per-image weights ``W3 diag(s)``, which saves a full pass over the feature map.
  Where TLC pools locally, ``s`` varies over the image and the product is kept.

What is deliberately *not* folded: ``conv1`` (1x1) followed by the depthwise ``conv2`` (3x3, zero
padding). Merging them would give a dense 3x3 conv whose bias term is wrong on the border pixels
(zero padding pads conv1's output, bias included, with zeros) and costs 9x the MACs of conv1.

The fused network is inference-only: :class:`FusedNetwork` raises on ``.train()`` and on a backward.
"""
import copy

import torch
import torch.nn.functional as F
from torch import nn

from .arch_util import ResidualGatedBlock, SimpleGate

__all__ = ['FusableUNet', 'FusedBlock', 'FusedNetwork', 'InferenceOnlyError', 'fuse_unet', 'normalize_channels']

_TRAIN_MESSAGE = ('{name} is an inference-only network made by fuse(): the LayerNorm affines, beta and gamma '
                  'are folded into its convolutions, so it cannot be trained. Train the unfused network and '
                  'call fuse() on it again.')


class InferenceOnlyError(RuntimeError):
    """Raised when a fused (deploy-mode) network is asked to train."""


def normalize_channels(x, eps):
    """LayerNorm2d without its affine: normalise the C values of every pixel of an N x C x H x W tensor.

    A ``channels_last`` tensor is an N x H x W x C array in memory, so PyTorch's fused
    ``layer_norm`` runs on it without a copy. Statistics are in at least float32.

    Args:
        x (Tensor): N x C x H x W input, any memory format.
        eps (float): Added to the variance.

    Returns:
        Tensor: Same shape, dtype and memory format as ``x``.
    """
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        # layer_norm over the last dim of the N x H x W x C view accumulates in float32 for bf16/fp16
        return F.layer_norm(x.permute(0, 2, 3, 1), x.shape[1:2], eps=eps).permute(0, 3, 1, 2)
    xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    # two passes over the channel dim: torch.var_mean over dim 1 of an NCHW tensor measured ~5x slower on the CPU
    centred = xf - xf.mean(1, keepdim=True)
    return (centred * torch.rsqrt(centred.square().mean(1, keepdim=True) + eps)).to(x.dtype)


def _conv_params(conv):
    """Weight and bias of a conv in float64, for folding with little rounding."""
    w = conv.weight.detach().double()
    if conv.bias is None:
        return w, torch.zeros(w.shape[0], dtype=torch.float64, device=w.device)
    return w, conv.bias.detach().double()


def _set_conv(conv, weight, bias):
    """Write folded float64 parameters back into ``conv`` in its own dtype."""
    dtype = conv.weight.dtype
    conv.weight = nn.Parameter(weight.to(dtype), requires_grad=False)
    conv.bias = nn.Parameter(bias.to(dtype), requires_grad=False)


def fold_affine_into_next_conv(norm, conv):
    """Fold a per-channel affine ``x * norm.weight + norm.bias`` into the 1x1 ``conv`` that follows it."""
    w, b = _conv_params(conv)
    scale, shift = norm.weight.detach().double(), norm.bias.detach().double()
    _set_conv(conv, w * scale.view(1, -1, 1, 1), b + w[:, :, 0, 0] @ shift)


def fold_scale_into_prev_conv(conv, scale):
    """Fold a per-output-channel scale (shape 1 x C x 1 x 1, like ``beta``) into the conv before it."""
    w, b = _conv_params(conv)
    s = scale.detach().double().reshape(-1)
    _set_conv(conv, w * s.view(-1, 1, 1, 1), b * s)


def _scaled_pointwise(x, conv, s):
    """``conv(x * s)`` for a 1x1 ``conv`` and a per-image channel scale ``s`` (N x C x 1 x 1).

    The scale goes into per-image weights, so the N x C x H x W product is never formed.
    """
    n, c, h, w = x.shape
    weight = conv.weight[:, :, 0, 0].unsqueeze(0) * s.view(n, 1, c).to(conv.weight.dtype)  # N x Cout x C
    bias = conv.bias
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        rows = x.permute(0, 2, 3, 1).reshape(n, h * w, c)  # a view: channels_last is N x HW x C in memory
        out = torch.baddbmm(bias.view(1, 1, -1), rows, weight.transpose(1, 2))
        return out.view(n, h, w, -1).permute(0, 3, 1, 2)
    out = torch.baddbmm(bias.view(1, -1, 1), weight, x.reshape(n, c, h * w))
    return out.view(n, -1, h, w)


class FusedBlock(nn.Module):
    """Inference form of a :class:`ResidualGatedBlock` (NAFBlock or BaselineBlock).

    Same computation as the block in eval mode, with the norm affines, ``beta`` and ``gamma``
    folded into ``conv1``, ``conv4``, ``conv3`` and ``conv5``. Built by :meth:`from_block`.

    Args:
        block (ResidualGatedBlock): The trained block; it is not modified.
    """

    def __init__(self, block):
        super().__init__()
        if not isinstance(block, ResidualGatedBlock):
            raise TypeError(f'FusedBlock fuses ResidualGatedBlock subclasses, got {type(block).__name__}')
        if not isinstance(block.act, (SimpleGate, nn.GELU)):
            raise TypeError(f'unsupported activation {type(block.act).__name__} in {type(block).__name__}')
        self.eps1, self.eps2 = block.norm1.eps, block.norm2.eps
        for name in ('conv1', 'conv2', 'conv3', 'conv4', 'conv5'):
            conv = copy.deepcopy(getattr(block, name))
            for p in conv.parameters():
                p.requires_grad_(False)
            setattr(self, name, conv)
        self.act = copy.deepcopy(block.act)
        # the attention's pooling + convs (NAFBlock: sca, BaselineBlock: se); its pooling may be TLC's
        self.attn_name = 'sca' if hasattr(block, 'sca') else 'se'
        self.attention = copy.deepcopy(getattr(block, self.attn_name)).requires_grad_(False)
        fold_affine_into_next_conv(block.norm1, self.conv1)
        fold_affine_into_next_conv(block.norm2, self.conv4)
        fold_scale_into_prev_conv(self.conv3, block.beta)
        fold_scale_into_prev_conv(self.conv5, block.gamma)

    def train(self, mode=True):
        if mode:
            raise InferenceOnlyError(_TRAIN_MESSAGE.format(name=type(self).__name__))
        return super().train(False)

    def forward(self, inp):
        x = self.act(self.conv2(self.conv1(normalize_channels(inp, self.eps1))))
        s = self.attention(x)
        if s.shape[-2:] == (1, 1):
            x = _scaled_pointwise(x, self.conv3, s)
        else:  # TLC: the scale varies over the image
            x = self.conv3(x * s)
        y = x.add_(inp)  # x is a fresh tensor: adding in place saves one feature map
        x = self.conv5(self.act(self.conv4(normalize_channels(y, self.eps2))))
        return x.add_(y)


class _RefuseBackward(torch.autograd.Function):
    """Identity whose backward raises: the fused net's output cannot be trained through."""

    @staticmethod
    def forward(ctx, out, guard, name):
        ctx.name = name
        return out.view_as(out)

    @staticmethod
    def backward(ctx, grad):
        raise InferenceOnlyError(_TRAIN_MESSAGE.format(name=ctx.name))


class FusedNetwork(nn.Module):
    """An inference-only wrapper around a UNet whose blocks are :class:`FusedBlock`.

    Runs without autograd; ``.train()`` and a backward through its output raise
    :class:`InferenceOnlyError`. ``padder_size`` and ``train_size`` (TLC) of the wrapped network
    are exposed for code that pads or tiles.

    Args:
        body (nn.Module): The network with fused blocks.
        source_name (str): Class name of the network it was fused from, for messages and repr.
    """

    def __init__(self, body, source_name):
        super().__init__()
        self.body = body
        self.source_name = source_name
        # requires grad only so a backward reaches _RefuseBackward instead of a vaguer autograd error
        self._guard = torch.zeros((), requires_grad=True)
        super().train(False)

    @property
    def padder_size(self):
        return self.body.padder_size

    def extra_repr(self):
        return f'fused from {self.source_name}, inference only'

    def train(self, mode=True):
        if mode:
            raise InferenceOnlyError(_TRAIN_MESSAGE.format(name=f'Fused {self.source_name}'))
        return super().train(False)

    def forward(self, x):
        with torch.no_grad():
            out = self.body(x)
        if torch.is_grad_enabled() and not torch.is_inference_mode_enabled():
            out = _RefuseBackward.apply(out, self._guard, f'Fused {self.source_name}')
        return out


def fuse_unet(net):
    """Deploy-mode copy of a UNet of :class:`ResidualGatedBlock` (NAFNet, Baseline, their Local variants).

    Args:
        net (UNetSkeleton): The trained network; it is not modified.

    Returns:
        FusedNetwork: Inference-only network computing the same function as ``net.eval()``.
    """
    body = copy.deepcopy(net)
    body.requires_grad_(False)
    found = 0
    for _, stage in body.stages_by_level():
        for i, block in enumerate(stage):
            if not isinstance(block, ResidualGatedBlock):
                raise TypeError(f'{type(net).__name__} has a {type(block).__name__} block; fuse() supports '
                                'NAFBlock and BaselineBlock')
            stage[i] = FusedBlock(block)
            found += 1
    if found == 0:
        raise ValueError(f'{type(net).__name__} has no blocks to fuse')
    body.eval()
    return FusedNetwork(body, type(net).__name__)


class FusableUNet:
    """Gives a UNet of :class:`ResidualGatedBlock` (NAFNet, Baseline and their Local variants) its ``fuse()``.

    A mixin rather than a method of ``UNetSkeleton``: DeblurUNet shares the skeleton but has no
    gated blocks, and inference asks ``callable(getattr(net, 'fuse', None))`` to decide whether to fuse.
    """

    def fuse(self):
        """Inference-only copy with norm affines, beta and gamma folded into the convs (see :func:`fuse_unet`)."""
        return fuse_unet(self)
