"""NAFNet, the nonlinear-activation-free UNet of NAFBlocks.

Paper: Simple Baselines for Image Restoration (Chen et al., ECCV 2022).
"""
from functools import partial

from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from basicsr_nafnet.registry import register
from .arch_util import ResidualGatedBlock, SimpleGate, UNetSkeleton, make_channel_scale
from .fusion import FusableUNet


class NAFBlock(ResidualGatedBlock):
    """NAFNet's nonlinear-activation-free block: SimpleGate and simplified channel attention.

    Args:
        c (int): Channels.
        dw_expand (int): Expansion of the depth-wise branch. Default: 2.
        ffn_expand (int): Expansion of the feed-forward branch. Default: 2.
        drop_out_rate (float): Dropout rate. Default: 0.
    """

    def __init__(self, c, dw_expand=2, ffn_expand=2, drop_out_rate=0.):
        super().__init__(c, drop_out_rate)
        dw_channel, ffn_channel = c * dw_expand, c * ffn_expand
        self.conv1 = nn.Conv2d(c, dw_channel, 1)
        self.conv2 = nn.Conv2d(dw_channel, dw_channel, 3, 1, 1, groups=dw_channel)
        self.conv3 = nn.Conv2d(dw_channel // 2, c, 1)
        # simplified channel attention: global average, 1x1 conv, no nonlinearity
        self.sca = make_channel_scale('sca', dw_channel // 2)
        self.act = SimpleGate()
        self.conv4 = nn.Conv2d(c, ffn_channel, 1)
        self.conv5 = nn.Conv2d(ffn_channel // 2, c, 1)

    def attend(self, x):
        return x * self.sca(x)


@register(ARCH_REGISTRY)
class NAFNet(FusableUNet, UNetSkeleton):
    """NAFNet: a UNet of NAFBlocks.

    Paper: Simple Baselines for Image Restoration (Chen et al., ECCV 2022). State-dict keys match
    the official release, so its checkpoints load with ``strict=True``.

    Args:
        img_channel (int): Channels of the input and output image. Default: 3.
        width (int): Channels at full resolution. Default: 32.
        middle_blk_num (int): Blocks at the lowest resolution. Default: 1.
        enc_blk_nums (sequence of int): Blocks per encoder level. Default: (1, 1, 1, 28) (GoPro).
        dec_blk_nums (sequence of int): Blocks per decoder level. Default: (1, 1, 1, 1) (GoPro).
        drop_out_rate (float): Dropout rate inside the blocks. Default: 0.
    """

    def __init__(self, img_channel=3, width=32, middle_blk_num=1, enc_blk_nums=(1, 1, 1, 28),
                 dec_blk_nums=(1, 1, 1, 1), drop_out_rate=0.):
        super().__init__(partial(NAFBlock, drop_out_rate=drop_out_rate), img_channel, width, middle_blk_num,
                         enc_blk_nums, dec_blk_nums)
