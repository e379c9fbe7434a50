"""DeblurUNet: a configurable UNet (Ronneberger et al., MICCAI 2015) on NAFNet's skeleton.

Its options step the classic UNet block towards those of Simple Baselines for Image Restoration
(Chen et al., ECCV 2022).
"""
from functools import partial

from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from basicsr_nafnet.registry import register
from .arch_util import ATTENTIONS, ChannelAttention, UNetSkeleton, make_act, make_norm


class ConvBlock(nn.Module):
    """3x3 conv, [norm], act, [channel attention], 3x3 conv, [norm]; then an identity shortcut or the act.

    The bracketed layers exist only when asked for, so the default block (``norm='none'``,
    ``act='relu'``, ``attention='none'``) is ``body = [conv, ReLU, conv]`` with the keys ``body.0``
    and ``body.2`` it always had. The norm follows each conv (the classic conv-BN-ReLU order); the
    attention sits between the activation and the second conv, where the NAFNet paper's blocks have it.

    Args:
        c (int): Channels.
        residual (bool): ``x + body(x)``; otherwise ``act(body(x))``. Default: True.
        norm (str): 'none', 'batch' or 'layer'. Default: 'none'.
        act (str): 'relu', 'gelu' or 'none'. Default: 'relu'.
        attention (str): 'none', 'ca' or 'sca'. Default: 'none'.
    """

    def __init__(self, c, residual=True, norm='none', act='relu', attention='none'):
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"unknown attention '{attention}'; choose one of: {', '.join(ATTENTIONS)}")
        layers = [nn.Conv2d(c, c, 3, 1, 1), make_norm(norm, c), make_act(act)]
        if attention != 'none':
            layers.append(ChannelAttention(c, attention))
        layers += [nn.Conv2d(c, c, 3, 1, 1), make_norm(norm, c)]
        self.body = nn.Sequential(*(layer for layer in layers if layer is not None))
        self.act = make_act(act)
        self.residual = residual

    def forward(self, x):
        out = self.body(x)
        return x + out if self.residual else self.act(out)


@register(ARCH_REGISTRY)
class DeblurUNet(UNetSkeleton):
    """A generalized UNet for deblurring: configurable depth, width, blocks, norms, resampling and skips.

    The classic encoder-decoder with skip connections (Ronneberger et al., MICCAI 2015), built on
    the same skeleton as NAFNet so the two differ only in their blocks. ``norm``, ``act`` and
    ``attention`` take the block one step at a time towards the ones of *Simple Baselines for Image
    Restoration* (Chen et al., ECCV 2022): BatchNorm -> LayerNorm, ReLU -> GELU, channel attention
    (``ca``, the paper's Baseline) or its simplified form (``sca``, NAFNet).

    Args:
        img_channel (int): Channels of the input and output image. Default: 3.
        width (int): Channels at full resolution, doubled at each level. Default: 32.
        middle_blk_num (int): Blocks at the lowest resolution. Default: 1.
        enc_blk_nums (sequence of int): Blocks per encoder level; its length is the depth.
            Default: (1, 1, 1).
        dec_blk_nums (sequence of int): Blocks per decoder level. Default: (1, 1, 1).
        block (str): 'res' (two convs with an identity shortcut) or 'plain' (two convs, then the
            activation). Default: 'res'.
        down (str): 'conv' (2x2 stride 2), 'avgpool' or 'maxpool'. Default: 'conv'.
        up (str): 'pixelshuffle', 'deconv' or 'bilinear'. Default: 'pixelshuffle'.
        skip (str): 'add' or 'concat' (fused by a 1x1 conv). Default: 'concat'.
        norm (str): After each conv of a block: 'none', 'batch' (BatchNorm2d) or 'layer'
            (LayerNorm over channels, NAFNet's LayerNorm2d). Default: 'none'.
        act (str): 'relu', 'gelu' or 'none'. Default: 'relu'.
        attention (str): Channel attention after the activation: 'none', 'ca' (squeeze-and-excitation,
            as the paper's Baseline) or 'sca' (NAFNet's simplified channel attention). Default: 'none'.
        global_residual (bool): Add the input to the output (the network predicts the correction).
            Default: True.
    """

    def __init__(self, img_channel=3, width=32, middle_blk_num=1, enc_blk_nums=(1, 1, 1), dec_blk_nums=(1, 1, 1),
                 block='res', down='conv', up='pixelshuffle', skip='concat', norm='none', act='relu',
                 attention='none', global_residual=True):
        if block not in ('res', 'plain'):
            raise ValueError(f"unknown block '{block}'; choose 'res' or 'plain'")
        make_block = partial(ConvBlock, residual=block == 'res', norm=norm, act=act, attention=attention)
        super().__init__(make_block, img_channel, width, middle_blk_num, enc_blk_nums, dec_blk_nums, down, up, skip,
                         global_residual)
