"""PSNRLoss: negative PSNR as a training loss, the loss of NAFNet's GoPro recipe."""
import math

import torch
from basicsr.utils.registry import LOSS_REGISTRY
from torch import nn

from basicsr_nafnet.registry import register


@register(LOSS_REGISTRY)
class PSNRLoss(nn.Module):
    """Negative PSNR as a loss: ``loss_weight * 10/ln(10) * mean_over_batch(log(mse_per_image + 1e-8))``.

    For images in [0, 1] this is -PSNR in dB (more negative is better); identical images give
    10*log10(1e-8) = -80. Used by NAFNet (Chen et al., ECCV 2022) for GoPro.

    Args:
        loss_weight (float): Weight of this loss. Default: 1.0.
        reduction (str): Only 'mean' (over the batch) is supported.
        toY (bool): Compute it on the BT.601 luma (Y of YCbCr, scaled to [0, 1]) of RGB inputs.
            Default: False.
    """

    def __init__(self, loss_weight=1.0, reduction='mean', toY=False):
        super().__init__()
        if reduction != 'mean':
            raise ValueError(f"PSNRLoss: unsupported reduction '{reduction}'; supported: 'mean'")
        self.loss_weight = loss_weight
        self.reduction = reduction
        self.toY = toY
        self.register_buffer('scale', torch.tensor(10 / math.log(10)), persistent=False)
        # BT.601 RGB -> Y for RGB in [0, 1]: Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255
        self.register_buffer('y_coef', torch.tensor([65.481, 128.553, 24.966]).view(1, 3, 1, 1) / 255,
                             persistent=False)
        self.register_buffer('y_offset', torch.tensor(16 / 255), persistent=False)

    def to_y(self, img):
        if img.size(1) != 3:
            raise ValueError(f'PSNRLoss(toY=True) needs RGB input with 3 channels, got shape {tuple(img.shape)}')
        return (img * self.y_coef.to(img.dtype)).sum(1, keepdim=True) + self.y_offset.to(img.dtype)

    def forward(self, pred, target, weight=None, **kwargs):
        """
        Args:
            pred (Tensor): N x C x H x W prediction.
            target (Tensor): N x C x H x W ground truth.
            weight (Tensor, optional): Element-wise weights, broadcastable to the (luma of the)
                inputs; each image's MSE becomes a weighted mean.
        """
        if pred.shape != target.shape:
            raise ValueError(f'PSNRLoss: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape')
        if self.toY:
            pred, target = self.to_y(pred), self.to_y(target)
        sq_err = (pred - target).square()
        dims = tuple(range(1, sq_err.dim()))
        if weight is None:
            mse = sq_err.mean(dims)
        else:
            if self.toY and weight.dim() == 4 and weight.size(1) != 1:
                weight = weight.mean(1, keepdim=True)  # one weight per pixel of the luma
            weight = torch.broadcast_to(weight, sq_err.shape).to(sq_err.dtype)
            mse = (sq_err * weight).sum(dims) / weight.sum(dims).clamp_min(1e-12)
        return self.loss_weight * self.scale * torch.log(mse + 1e-8).mean()
