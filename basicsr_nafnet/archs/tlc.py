"""Test-time local converter (TLC).

Paper: Revisiting Global Statistics Aggregation for Improving Image Restoration (Chu et al., ECCV
2022). A network trained on crops computes its channel-attention statistics over a crop; on a full
frame, global pooling averages over a far larger area. TLC replaces each global average pooling by
a local one whose window matches what training saw: 1.5x the training size, in feature pixels of
the level where the pooling sits.
"""
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ['LocalAvgPool2d', 'convert_to_local']


class LocalAvgPool2d(nn.Module):
    """Mean over a ``window`` around each pixel, from an integral image; global when it covers the input.

    Where the window does not fit, the means of the valid positions are replicated to the border,
    so the output has the input's H x W.

    Args:
        window (tuple[int, int]): Window height and width in pixels of this feature map.
        fast_imp (bool): Evaluate the window means on a coarser grid (stride of about 1/8 of the
            window) and up-sample them with nearest neighbour: faster, not exact. Default: False.
    """

    def __init__(self, window, fast_imp=False):
        super().__init__()
        self.window = (max(1, int(window[0])), max(1, int(window[1])))
        self.fast_imp = fast_imp

    def extra_repr(self):
        return f'window={self.window}, fast_imp={self.fast_imp}'

    def forward(self, x):
        h, w = x.shape[-2:]
        kh, kw = self.window
        if kh >= h and kw >= w:
            return F.adaptive_avg_pool2d(x, 1)
        if self.fast_imp:
            stride = max(1, min(kh, kw) // 8)
            if stride > 1:
                coarse = _box_mean(x[..., ::stride, ::stride], max(1, kh // stride), max(1, kw // stride))
                return F.interpolate(coarse, size=(h, w), mode='nearest')
        return _box_mean(x, kh, kw)


def _box_mean(x, kh, kw):
    h, w = x.shape[-2:]
    kh, kw = min(kh, h), min(kw, w)
    # float64 on the CPU and centring keep the running sums of large frames accurate
    acc = torch.float64 if x.device.type == 'cpu' else torch.float32
    offset = x.mean((-2, -1), keepdim=True, dtype=acc)
    s = F.pad((x.to(acc) - offset).cumsum(-1).cumsum(-2), (1, 0, 1, 0))
    box = s[..., kh:, kw:] - s[..., :-kh, kw:] - s[..., kh:, :-kw] + s[..., :-kh, :-kw]
    out = (box / (kh * kw) + offset).to(x.dtype)
    out_h, out_w = out.shape[-2:]
    pad = ((w - out_w) // 2, (w - out_w + 1) // 2, (h - out_h) // 2, (h - out_h + 1) // 2)
    return F.pad(out, pad, mode='replicate') if any(pad) else out


def convert_to_local(net, train_size=(1, 3, 256, 256), fast_imp=False):
    """Replace every global average pooling inside the blocks of a :class:`UNetSkeleton` in place.

    The window at level ``l`` is what the official implementation derives from a forward pass at
    ``train_size``: the padded training height at that level times 1.5 (integer arithmetic).
    """
    train_h, train_w = train_size[-2:]
    base_h, base_w = int(train_h * 1.5), int(train_w * 1.5)
    m = net.padder_size
    padded_h, padded_w = -(-train_h // m) * m, -(-train_w // m) * m
    for level, stage in net.stages_by_level():
        feat_h, feat_w = padded_h >> level, padded_w >> level
        window = (feat_h * base_h // train_h, feat_w * base_w // train_w)
        for parent in stage.modules():
            for name, child in parent.named_children():
                if isinstance(child, nn.AdaptiveAvgPool2d) and child.output_size in (1, (1, 1)):
                    setattr(parent, name, LocalAvgPool2d(window, fast_imp))
    return net
