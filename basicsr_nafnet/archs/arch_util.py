"""Pieces the archs share: LayerNorm2d, SimpleGate, norms, activations, channel attention, the NAF-style block
shape, and the UNet skeleton."""
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

__all__ = [
    'LayerNorm2d', 'SimpleGate', 'ChannelAttention', 'ResidualGatedBlock', 'UNetSkeleton', 'pad_to_multiple',
    'make_norm', 'make_act', 'make_channel_scale', 'make_down', 'make_up', 'NORMS', 'ACTIVATIONS', 'ATTENTIONS'
]

NORMS = ('none', 'batch', 'layer')
ACTIVATIONS = ('relu', 'gelu', 'none')
ATTENTIONS = ('none', 'ca', 'sca')


class _LayerNorm2dFunction(torch.autograd.Function):
    """Channel LayerNorm whose backward keeps only the normalised input and 1/std.

    Plain autograd keeps the centred input, its square, the variance and the normalised input;
    recomputing the gradient from x_hat and rstd halves what one norm layer holds during training.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        mean = x.mean(1, keepdim=True)
        centred = x - mean
        rstd = torch.rsqrt(centred.square().mean(1, keepdim=True) + eps)
        x_hat = centred.mul_(rstd)
        ctx.save_for_backward(x_hat, rstd, weight)
        return torch.addcmul(bias.view(1, -1, 1, 1), x_hat, weight.view(1, -1, 1, 1))

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        x_hat, rstd, weight = ctx.saved_tensors
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            g = grad_out * weight.view(1, -1, 1, 1)
            grad_x = rstd * (g - g.mean(1, keepdim=True) - x_hat * (g * x_hat).mean(1, keepdim=True))
        if ctx.needs_input_grad[1]:
            grad_w = (grad_out * x_hat).sum((0, 2, 3))
        if ctx.needs_input_grad[2]:
            grad_b = grad_out.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, None


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of each pixel of an NCHW tensor (NAFNet's ``LayerNorm2d``).

    Statistics are computed in at least float32, also under autocast or with bf16 weights, and the
    result is returned in the input's dtype. A ``channels_last`` input runs ``F.layer_norm`` on its
    N x H x W x C view (one kernel each way, same result within float32 rounding) and stays ``channels_last``.

    Args:
        channels (int): Number of channels C.
        eps (float): Added to the variance. Default: 1e-6, as in NAFNet.
    """

    def __init__(self, channels, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):
        dtype = torch.promote_types(x.dtype, torch.float32)
        if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
            # channels_last: the N x H x W x C view is contiguous, and layer_norm over its last dim is one kernel
            # forward and one backward where the function below launches about eight each
            out = F.layer_norm(x.permute(0, 2, 3, 1).to(dtype), x.shape[1:2], self.weight.to(dtype),
                               self.bias.to(dtype), self.eps).permute(0, 3, 1, 2)
        else:
            out = _LayerNorm2dFunction.apply(x.to(dtype), self.weight.to(dtype), self.bias.to(dtype), self.eps)
        return out.to(x.dtype)


class SimpleGate(nn.Module):
    """Split the channels in two halves and multiply them: NAFNet's replacement for GELU."""

    def forward(self, x):
        x1, x2 = x.chunk(2, dim=1)
        return x1 * x2


def make_norm(kind, chan):
    """A normalisation layer over ``chan`` channels, or None for ``'none'``.

    ``batch``: BatchNorm2d (statistics over the batch and the image); ``layer``: :class:`LayerNorm2d`
    (over the channels of each pixel, NAFNet's choice).
    """
    if kind == 'none':
        return None
    if kind == 'batch':
        return nn.BatchNorm2d(chan)
    if kind == 'layer':
        return LayerNorm2d(chan)
    raise ValueError(f"unknown norm '{kind}'; choose one of: {', '.join(NORMS)}")


def make_act(kind):
    """An activation: ``relu``, ``gelu`` or ``none`` (identity)."""
    if kind == 'relu':
        return nn.ReLU(inplace=True)
    if kind == 'gelu':
        return nn.GELU()
    if kind == 'none':
        return nn.Identity()
    raise ValueError(f"unknown act '{kind}'; choose one of: {', '.join(ACTIVATIONS)}")


def make_channel_scale(kind, chan):
    """The per-channel scale of a channel attention, N x C x 1 x 1; the block multiplies its features by it.

    ``ca``: squeeze-and-excitation (Hu et al., CVPR 2018) as in the NAFNet paper's Baseline: global
    average, 1x1 conv squeezing by 2, ReLU, 1x1 conv, Sigmoid (keys ``1`` and ``3``, the official ``se``).
    ``sca``: NAFNet's simplified channel attention: global average and one 1x1 conv, no nonlinearity
    (key ``1``, the official ``sca``). The scale is returned rather than applied because deploy-mode
    fusion (``fusion.py``) folds it into the next 1x1 conv, and TLC swaps the pooling (``tlc.py``).
    """
    if kind == 'ca':
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(chan, chan // 2, 1), nn.ReLU(inplace=True),
                             nn.Conv2d(chan // 2, chan, 1), nn.Sigmoid())
    if kind == 'sca':
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(chan, chan, 1))
    raise ValueError(f"unknown attention '{kind}'; choose one of: {', '.join(ATTENTIONS)}")


class ChannelAttention(nn.Module):
    """``x * scale(x)`` with ``scale`` from :func:`make_channel_scale` (``kind`` 'ca' or 'sca').

    Args:
        chan (int): Channels.
        kind (str): 'ca' (squeeze-and-excitation) or 'sca' (simplified channel attention).
    """

    def __init__(self, chan, kind):
        super().__init__()
        self.scale = make_channel_scale(kind, chan)

    def forward(self, x):
        return x * self.scale(x)


class ResidualGatedBlock(nn.Module):
    """The block shape NAFBlock and the paper's BaselineBlock share.

    ``y = x + beta * conv3(attend(act(conv2(conv1(norm1(x))))))`` followed by the feed-forward part
    ``y + gamma * conv5(act(conv4(norm2(y))))``. ``beta`` and ``gamma`` start at zero, so every
    block starts as the identity. Subclasses create ``conv1``..``conv5``, ``act`` and ``attend``.

    Args:
        c (int): Channels of the block's input and output.
        drop_out_rate (float): Dropout after each of the two branches. Default: 0.
    """

    def __init__(self, c, drop_out_rate=0.):
        super().__init__()
        self.norm1 = LayerNorm2d(c)
        self.norm2 = LayerNorm2d(c)
        self.dropout1 = nn.Dropout(drop_out_rate) if drop_out_rate > 0 else nn.Identity()
        self.dropout2 = nn.Dropout(drop_out_rate) if drop_out_rate > 0 else nn.Identity()
        self.beta = nn.Parameter(torch.zeros((1, c, 1, 1)))
        self.gamma = nn.Parameter(torch.zeros((1, c, 1, 1)))

    def attend(self, x):
        raise NotImplementedError

    def forward(self, inp):
        x = self.act(self.conv2(self.conv1(self.norm1(inp))))
        x = self.dropout1(self.conv3(self.attend(x)))
        y = inp + x * self.beta
        x = self.dropout2(self.conv5(self.act(self.conv4(self.norm2(y)))))
        return y + x * self.gamma


def pad_to_multiple(x, multiple):
    """Zero-pad the bottom and right of an NCHW tensor so H and W are multiples of ``multiple``."""
    h, w = x.shape[-2:]
    pad_h, pad_w = (-h) % multiple, (-w) % multiple
    # unconditional: `if pad_h or pad_w` branches on sizes torch.export traces as symbols; a zero pad copies
    # only the 3-channel input
    return F.pad(x, (0, pad_w, 0, pad_h))


def make_down(kind, chan):
    """A 2x down-sampling block that doubles the channels.

    ``conv``: 2x2 stride-2 convolution (NAFNet); ``avgpool``/``maxpool``: pooling then a 1x1/3x3 conv.
    """
    if kind == 'conv':
        return nn.Conv2d(chan, 2 * chan, 2, 2)
    if kind == 'avgpool':
        return nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(chan, 2 * chan, 1))
    if kind == 'maxpool':
        return nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(chan, 2 * chan, 3, 1, 1))
    raise ValueError(f"unknown down-sampling block '{kind}'; choose one of: conv, avgpool, maxpool")


def make_up(kind, chan):
    """A 2x up-sampling block that halves the channels.

    ``pixelshuffle``: 1x1 conv (no bias) to 2x channels, then PixelShuffle(2) (NAFNet);
    ``deconv``: 2x2 stride-2 transposed conv; ``bilinear``: bilinear up-sampling then a 1x1 conv.
    """
    if kind == 'pixelshuffle':
        return nn.Sequential(nn.Conv2d(chan, 2 * chan, 1, bias=False), nn.PixelShuffle(2))
    if kind == 'deconv':
        return nn.ConvTranspose2d(chan, chan // 2, 2, 2)
    if kind == 'bilinear':
        return nn.Sequential(nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False),
                             nn.Conv2d(chan, chan // 2, 1))
    raise ValueError(f"unknown up-sampling block '{kind}'; choose one of: pixelshuffle, deconv, bilinear")


class UNetSkeleton(nn.Module):
    """The UNet every UNet-shaped arch here is built on, parametrised by its block.

    ``intro`` (3x3 conv) -> per level: ``encoders[i]`` (blocks), skip kept, ``downs[i]`` ->
    ``middle_blks`` -> per level: ``ups[i]``, skip merged, ``decoders[i]`` -> ``ending`` (3x3 conv),
    plus the input (the global residual, unless switched off). The input is zero-padded to a multiple
    of 2**levels and the output cropped back, so any H x W works. Module names follow the official
    NAFNet release.

    Args:
        make_block (callable): ``make_block(channels)`` returns one block (an ``nn.Module``).
        img_channel (int): Channels of the input and output image.
        width (int): Channels at full resolution; doubled at each level.
        middle_blk_num (int): Blocks at the lowest resolution.
        enc_blk_nums (sequence of int): Blocks per encoder level; its length is the depth.
        dec_blk_nums (sequence of int): Blocks per decoder level, deepest first; same length.
        down (str): Down-sampling block, see :func:`make_down`. Default: 'conv'.
        up (str): Up-sampling block, see :func:`make_up`. Default: 'pixelshuffle'.
        skip (str): 'add' the encoder feature to the up-sampled one, or 'concat' them and fuse
            with a 1x1 conv (``merges[i]``). Default: 'add'.
        global_residual (bool): Add the input to the output, so the network predicts a correction.
            Default: True (NAFNet).
    """

    def __init__(self, make_block, img_channel, width, middle_blk_num, enc_blk_nums, dec_blk_nums,
                 down='conv', up='pixelshuffle', skip='add', global_residual=True):
        super().__init__()
        if len(enc_blk_nums) != len(dec_blk_nums):
            raise ValueError(f'enc_blk_nums {list(enc_blk_nums)} and dec_blk_nums {list(dec_blk_nums)} '
                             'must have the same length (one entry per level)')
        if skip not in ('add', 'concat'):
            raise ValueError(f"unknown skip '{skip}'; choose 'add' or 'concat'")
        if not isinstance(global_residual, bool):
            raise ValueError(f'global_residual must be true or false, got {global_residual!r}')
        self.intro = nn.Conv2d(img_channel, width, 3, 1, 1)
        self.encoders, self.downs = nn.ModuleList(), nn.ModuleList()
        self.ups, self.decoders = nn.ModuleList(), nn.ModuleList()
        chan = width
        for num in enc_blk_nums:
            self.encoders.append(nn.Sequential(*[make_block(chan) for _ in range(num)]))
            self.downs.append(make_down(down, chan))
            chan *= 2
        self.middle_blks = nn.Sequential(*[make_block(chan) for _ in range(middle_blk_num)])
        for num in dec_blk_nums:
            self.ups.append(make_up(up, chan))
            chan //= 2
            self.decoders.append(nn.Sequential(*[make_block(chan) for _ in range(num)]))
        if skip == 'concat':
            self.merges = nn.ModuleList(nn.Conv2d(2 * width * 2**i, width * 2**i, 1)
                                        for i in reversed(range(len(enc_blk_nums))))
        self.ending = nn.Conv2d(width, img_channel, 3, 1, 1)
        self.padder_size = 2**len(enc_blk_nums)
        self.global_residual = global_residual

    def stages_by_level(self):
        """``(level, stage)`` for every stage of blocks; level 0 is full resolution."""
        depth = len(self.encoders)
        yield from enumerate(self.encoders)
        yield depth, self.middle_blks
        yield from ((depth - 1 - i, stage) for i, stage in enumerate(self.decoders))

    def forward(self, inp):
        h, w = inp.shape[-2:]
        inp = pad_to_multiple(inp, self.padder_size)
        x = self.intro(inp)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.middle_blks(x)
        for i, (up, decoder, skip) in enumerate(zip(self.ups, self.decoders, reversed(skips))):
            x = up(x)
            x = self.merges[i](torch.cat((x, skip), 1)) if hasattr(self, 'merges') else x + skip
            x = decoder(x)
        x = self.ending(x)
        if self.global_residual:
            x = x + inp
        return x[..., :h, :w]
