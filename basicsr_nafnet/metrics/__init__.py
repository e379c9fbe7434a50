"""Metrics of the GoPro protocol, registered in BasicSR's ``METRIC_REGISTRY`` on import.

PSNR stays BasicSR's ``calculate_psnr`` (RGB, uint8, crop border 0 is the protocol already); SSIM
needs the 3-D form the published numbers use: ``calculate_ssim_3d``.
"""
from .gopro_ssim import calculate_ssim_3d, calculate_ssim_3d_pt, ssim_3d

__all__ = ['calculate_ssim_3d', 'calculate_ssim_3d_pt', 'ssim_3d']
