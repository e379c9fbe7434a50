"""ResidualCNN: the plain residual CNN baseline (conv + ReLU stack predicting a residual).

Residual learning as in VDSR (Kim et al., CVPR 2016) and DnCNN (Zhang et al., TIP 2017).
"""
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from basicsr_nafnet.registry import register


@register(ARCH_REGISTRY)
class ResidualCNN(nn.Module):
    """A plain residual CNN: a stack of 3x3 conv + ReLU layers predicting a residual, ``y = x + f(x)``.

    The simplest learned deblurring baseline, in the spirit of VDSR/DnCNN residual learning (Kim et
    al., CVPR 2016; Zhang et al., TIP 2017), without batch norm.

    Args:
        num_in_ch (int): Channels of the input image. Default: 3.
        num_out_ch (int): Channels of the output image; must equal ``num_in_ch``. Default: 3.
        num_feat (int): Channels of the hidden layers. Default: 64.
        num_block (int): Hidden conv + ReLU layers between the first and the last conv. Default: 8.
    """

    def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, num_block=8):
        super().__init__()
        if num_in_ch != num_out_ch:
            raise ValueError(f'ResidualCNN adds its input to its output: num_in_ch ({num_in_ch}) must equal '
                             f'num_out_ch ({num_out_ch})')
        layers = [nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), nn.ReLU(inplace=True)]
        for _ in range(num_block):
            layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(num_feat, num_out_ch, 3, 1, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.body(x)
