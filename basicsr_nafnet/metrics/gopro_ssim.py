"""SSIM as the published GoPro numbers compute it: MATLAB's ``ssim`` on the RGB array as one volume.

The H x W x C image is one 3-D volume filtered by a separable 11x11x11 Gaussian (sigma 1.5) with
replicate padding on all three axes; ``C1 = (0.01*255)^2``, ``C2 = (0.03*255)^2``; the score is the
mean of the whole SSIM map. The official NAFNet code calls this ``ssim3d``. It is *not* BasicSR's
``calculate_ssim`` (per-channel 2-D SSIM over the valid region, averaged), which scores blurred
images 0.1 to 0.3 lower; never mix the two in one table.

Because the channel axis is only C long, filtering along it with replicate padding is a C x C
matrix applied to the channels; the two spatial axes are 1-D convolutions.
"""
import cv2
import numpy as np
import torch
from basicsr.metrics.metric_util import reorder_image, to_y_channel
from basicsr.utils.registry import METRIC_REGISTRY

from basicsr_nafnet.registry import register

__all__ = ['calculate_ssim_3d', 'calculate_ssim_3d_pt', 'ssim_3d', 'gaussian_kernel_1d', 'channel_mixing']

WINDOW = 11
SIGMA = 1.5


def gaussian_kernel_1d(size=WINDOW, sigma=SIGMA, dtype=torch.float64, device=None):
    """Normalised 1-D Gaussian taps (as ``cv2.getGaussianKernel`` and MATLAB's ``fspecial``)."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-x**2 / (2 * sigma**2))
    return (g / g.sum()).to(dtype=dtype, device=device)


def channel_mixing(channels, kernel):
    """The C x C matrix equal to filtering a length-C axis with ``kernel`` under replicate padding.

    Output channel ``c`` takes tap ``k`` from input channel ``clip(c + k - r, 0, C - 1)``.
    """
    radius = (len(kernel) - 1) // 2
    mix = torch.zeros(channels, channels, dtype=kernel.dtype, device=kernel.device)
    for c in range(channels):
        for k in range(len(kernel)):
            mix[c, min(max(c + k - radius, 0), channels - 1)] += kernel[k]
    return mix


def _conv_axis(x, kernel, dim):
    """Filter a tensor along ``dim`` with replicate padding, as a sum of shifted slices."""
    r = (len(kernel) - 1) // 2
    n = x.shape[dim]
    idx = torch.arange(-r, n + r, device=x.device).clamp_(0, n - 1)
    padded = x.index_select(dim, idx)
    out = padded.narrow(dim, 0, n) * kernel[0]
    for k in range(1, len(kernel)):
        out.add_(padded.narrow(dim, k, n), alpha=float(kernel[k]))
    return out


def _ssim_from_stats(mu_x, mu_y, xx, yy, xy, max_value):
    c1, c2 = (0.01 * max_value)**2, (0.03 * max_value)**2
    sigma_x, sigma_y, sigma_xy = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    return ((2 * mu_x * mu_y + c1) * (2 * sigma_xy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sigma_x + sigma_y + c2))


def _ssim_3d_numpy(x, y, max_value):
    """3-D SSIM of two float64 H x W x C arrays with OpenCV (float64 torch kernels are slow on CPUs)."""
    channels = x.shape[2]
    taps = gaussian_kernel_1d().numpy()
    mix = channel_mixing(channels, gaussian_kernel_1d()).numpy()

    def blur(a):
        a = cv2.sepFilter2D(a, cv2.CV_64F, taps, taps, borderType=cv2.BORDER_REPLICATE).reshape(a.shape)
        if channels <= 4:  # cv2.transform applies the C x C matrix to each pixel
            return cv2.transform(a, mix).reshape(a.shape)
        return a @ mix.T

    stats = [blur(a) for a in (x, y, x * x, y * y, x * y)]
    return float(_ssim_from_stats(*stats, max_value).mean())


def _ssim_3d_torch(x, y, max_value):
    """Per-item 3-D SSIM of two B x C x H x W tensors (each item one H x W x C volume), any device."""
    kernel = gaussian_kernel_1d(dtype=x.dtype, device=x.device)
    mix = channel_mixing(x.shape[1], kernel)
    b = x.shape[0]
    stats = _conv_axis(_conv_axis(torch.cat([x, y, x * x, y * y, x * y]), kernel, 2), kernel, 3)
    stats = torch.einsum('dc,bchw->bdhw', mix, stats)
    return _ssim_from_stats(*stats.split(b), max_value).flatten(1).mean(1)


def ssim_3d(img, img2, max_value=255., dtype=None):
    """3-D SSIM of two images of one shape, as a float.

    Args:
        img, img2 (ndarray | Tensor): H x W x C (or H x W) arrays in [0, ``max_value``], or torch
            tensors of that layout on any device.
        max_value (float): Dynamic range; 255 for the GoPro protocol. Default: 255.
        dtype (torch.dtype | None): Compute dtype for tensors on an accelerator; None: float32 (as
            the official CUDA implementation). On the CPU it is always float64. Default: None.

    Returns:
        float: The mean of the SSIM map.
    """
    if tuple(img.shape) != tuple(img2.shape):
        raise ValueError(f'SSIM needs images of one shape, got {tuple(img.shape)} and {tuple(img2.shape)}')
    if img.ndim == 2:
        img, img2 = img[..., None], img2[..., None]
    if img.ndim != 3:
        raise ValueError(f'SSIM expects H x W x C images, got shape {tuple(img.shape)}')
    on_device = isinstance(img, torch.Tensor) and img.device.type != 'cpu'
    if on_device:
        dtype = dtype or torch.float32
        x = img.to(dtype).permute(2, 0, 1)[None]
        y = img2.to(device=img.device, dtype=dtype).permute(2, 0, 1)[None]
        return float(_ssim_3d_torch(x, y, max_value)[0])

    def as_array(a):
        return a.detach().cpu().double().numpy() if isinstance(a, torch.Tensor) else np.asarray(a, np.float64)

    return _ssim_3d_numpy(np.ascontiguousarray(as_array(img)), np.ascontiguousarray(as_array(img2)), max_value)


@register(METRIC_REGISTRY)
def calculate_ssim_3d(img, img2, crop_border, input_order='HWC', test_y_channel=False, **kwargs):
    """3-D SSIM (the GoPro protocol), with BasicSR's metric signature.

    Args:
        img (ndarray): Image in [0, 255], as BasicSR's validation passes it (uint8 or float).
        img2 (ndarray): Reference image, same shape.
        crop_border (int): Pixels cropped from each border before scoring (0 for GoPro).
        input_order (str): 'HWC' or 'CHW'. Default: 'HWC'.
        test_y_channel (bool): Score the BT.601 Y channel (a one-channel volume) instead of RGB.
            Default: False.
        **kwargs: Ignored (BasicSR passes the option entry's other keys).

    Returns:
        float: The SSIM.
    """
    if img.shape != img2.shape:
        raise ValueError(f'Image shapes are different: {img.shape}, {img2.shape}.')
    if input_order not in ('HWC', 'CHW'):
        raise ValueError(f"Wrong input_order {input_order}. Supported input_orders are 'HWC' and 'CHW'")
    img = reorder_image(img, input_order=input_order).astype(np.float64)
    img2 = reorder_image(img2, input_order=input_order).astype(np.float64)
    if crop_border:
        img = img[crop_border:-crop_border, crop_border:-crop_border, ...]
        img2 = img2[crop_border:-crop_border, crop_border:-crop_border, ...]
    if test_y_channel:
        img, img2 = to_y_channel(img), to_y_channel(img2)
    return ssim_3d(img, img2, 255.)


@register(METRIC_REGISTRY)
def calculate_ssim_3d_pt(img, img2, crop_border, test_y_channel=False, **kwargs):
    """3-D SSIM on torch tensors (any device), like BasicSR's ``calculate_ssim_pt``.

    Args:
        img (Tensor): N x C x H x W in [0, 1].
        img2 (Tensor): Reference, same shape.
        crop_border (int): Pixels cropped from each border.
        test_y_channel (bool): Score the Y channel only. Default: False.

    Returns:
        Tensor: N SSIM values. The images are quantised to the 0..255 grid first, as the protocol
        scores uint8 images.
    """
    if img.shape != img2.shape:
        raise ValueError(f'Image shapes are different: {tuple(img.shape)}, {tuple(img2.shape)}.')
    if crop_border:
        img = img[..., crop_border:-crop_border, crop_border:-crop_border]
        img2 = img2[..., crop_border:-crop_border, crop_border:-crop_border]
    dtype = torch.float64 if img.device.type == 'cpu' else torch.float32
    x = (img.to(dtype).clamp(0, 1) * 255).round()
    y = (img2.to(dtype).clamp(0, 1) * 255).round()
    if test_y_channel:
        from basicsr.utils.color_util import rgb2ycbcr_pt
        x, y = rgb2ycbcr_pt(x / 255, y_only=True) * 255, rgb2ycbcr_pt(y / 255, y_only=True) * 255
    if img.device.type == 'cpu':
        return torch.tensor([ssim_3d(a.permute(1, 2, 0), b.permute(1, 2, 0)) for a, b in zip(x, y)], dtype=dtype)
    return _ssim_3d_torch(x, y, 255.)
