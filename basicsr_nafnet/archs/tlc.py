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
    """Mean over a ``window`` around each pixel, from running sums; global when it covers the input.

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
        # torch.export (ONNX export) traces H and W as symbols, and a Python branch on them would fix the graph
        # to the example's size: the traced formulation decides nothing in Python and is the same function
        box_mean = _box_mean_traced if torch.compiler.is_exporting() else _box_mean
        if box_mean is _box_mean and kh >= h and kw >= w:
            return F.adaptive_avg_pool2d(x, 1)
        if self.fast_imp:
            stride = max(1, min(kh, kw) // 8)
            if stride > 1:
                coarse = box_mean(x[..., ::stride, ::stride], max(1, kh // stride), max(1, kw // stride))
                return F.interpolate(coarse, size=(h, w), mode='nearest')
        return box_mean(x, kh, kw)


def _window_sums(t, dim, k):
    """Sums of ``k`` consecutive entries along ``dim`` (valid positions only), from one running sum."""
    running = t.cumsum(dim)
    n = t.shape[dim] - k + 1
    out = running.narrow(dim, k - 1, n).clone()
    if n > 1:
        out.narrow(dim, 1, n - 1).sub_(running.narrow(dim, 0, n - 1))
    return out


def _box_mean(x, kh, kw):
    h, w = x.shape[-2:]
    kh, kw = min(kh, h), min(kw, w)
    # bf16/fp16 cannot carry running sums; float32 can, once centred: within 1e-7 of float64 on a
    # 1280x720 map (tested), so no float64 copies of full-resolution features
    acc = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    # scan along the memory order: a channels_last map is an N x H x W x C array (measured 1.5x faster)
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    view, (dim_h, dim_w) = (x.permute(0, 2, 3, 1), (1, 2)) if channels_last else (x, (-2, -1))
    offset = view.mean((dim_h, dim_w), keepdim=True, dtype=acc)
    # separable window sums, along W then along H: each running sum spans one axis only
    sums = _window_sums(_window_sums(view.to(acc) - offset, dim_w, kw), dim_h, kh)
    out = sums.div_(kh * kw).add_(offset).to(x.dtype)
    if channels_last:
        out = out.permute(0, 3, 1, 2)
    out_h, out_w = out.shape[-2:]
    pad = ((w - out_w) // 2, (w - out_w + 1) // 2, (h - out_h) // 2, (h - out_h + 1) // 2)
    return F.pad(out, pad, mode='replicate') if any(pad) else out


def _window_means_traced(t, dim, k):
    """Mean of the ``k`` entries along ``dim`` (``-1`` or ``-2``) of the window each position reads.

    The window of position ``i`` starts at ``clamp(i - (k - 1) // 2, 0, n - k)`` and ends at most at ``n``: where
    ``k`` fits, these are :func:`_box_mean`'s valid windows with its replicated border; where it does not, every
    window is the whole axis. Start and end are index tensors, so the only symbolic sizes are ``n`` and ``n + 1``.
    """
    n = t.shape[dim]
    idx = torch.arange(n, device=t.device)
    start = (idx - (k - 1) // 2).clamp(max=n - k).clamp(min=0)  # in this order: n - k < 0 gives 0
    end = (start + k).clamp(max=n)
    running = F.pad(t.cumsum(dim), (1, 0) if dim == -1 else (0, 0, 1, 0))  # running[j] = sum of the first j
    sums = running.index_select(dim, end) - running.index_select(dim, start)
    count = (end - start).to(t.dtype)
    return sums / (count if dim == -1 else count[:, None])


def _box_mean_traced(x, kh, kw):
    """:func:`_box_mean` (and the global mean where the window covers the map) without Python decisions on H, W.

    Used while ``torch.export`` traces the network: every size-dependent choice is an index computed by tensor ops.
    NCHW float32 in and out.
    """
    offset = x.mean((-2, -1), keepdim=True)
    return _window_means_traced(_window_means_traced(x - offset, -1, kw), -2, kh) + offset


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
