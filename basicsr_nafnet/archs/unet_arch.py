from functools import partial

from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from basicsr_nafnet.engine.registry import register
from .arch_util import UNetSkeleton


class ConvBlock(nn.Module):
    """3x3 conv + ReLU twice, with an identity shortcut when ``residual``."""

    def __init__(self, c, residual=True):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1), nn.ReLU(inplace=True), nn.Conv2d(c, c, 3, 1, 1))
        self.act = nn.ReLU(inplace=True)
        self.residual = residual

    def forward(self, x):
        out = self.body(x)
        return x + out if self.residual else self.act(out)


@register(ARCH_REGISTRY)
class DeblurUNet(UNetSkeleton):
    """A generalized UNet for deblurring: configurable depth, width, blocks, resampling and skips.

    The classic encoder-decoder with skip connections (Ronneberger et al., MICCAI 2015), built on
    the same skeleton as NAFNet so the two differ only in their blocks, with a global residual.

    Args:
        img_channel (int): Channels of the input and output image. Default: 3.
        width (int): Channels at full resolution, doubled at each level. Default: 32.
        middle_blk_num (int): Blocks at the lowest resolution. Default: 1.
        enc_blk_nums (sequence of int): Blocks per encoder level; its length is the depth.
            Default: (1, 1, 1).
        dec_blk_nums (sequence of int): Blocks per decoder level. Default: (1, 1, 1).
        block (str): 'res' (two convs with an identity shortcut) or 'plain' (two convs + ReLU).
            Default: 'res'.
        down (str): 'conv' (2x2 stride 2), 'avgpool' or 'maxpool'. Default: 'conv'.
        up (str): 'pixelshuffle', 'deconv' or 'bilinear'. Default: 'pixelshuffle'.
        skip (str): 'add' or 'concat' (fused by a 1x1 conv). Default: 'concat'.
    """

    def __init__(self, img_channel=3, width=32, middle_blk_num=1, enc_blk_nums=(1, 1, 1), dec_blk_nums=(1, 1, 1),
                 block='res', down='conv', up='pixelshuffle', skip='concat'):
        if block not in ('res', 'plain'):
            raise ValueError(f"unknown block '{block}'; choose 'res' or 'plain'")
        make_block = partial(ConvBlock, residual=block == 'res')
        super().__init__(make_block, img_channel, width, middle_blk_num, enc_blk_nums, dec_blk_nums, down, up, skip)
