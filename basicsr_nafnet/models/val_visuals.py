"""Blur | restored | sharp strips written during validation."""
import cv2
import numpy as np
from basicsr.metrics import calculate_psnr

__all__ = ['comparison_strip']

_MIN_PANEL_WIDTH = 256  # small validation crops are enlarged (nearest neighbour) so labels fit and pixels show


def _panel(img, text, factor):
    """The image enlarged by ``factor`` under a black header band holding ``text`` (white)."""
    if factor > 1:
        img = cv2.resize(img, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
    width = img.shape[1]
    scale = 0.6
    (_, text_h), baseline = cv2.getTextSize('Ag', cv2.FONT_HERSHEY_SIMPLEX, scale, 1)  # same band for every label
    text_w = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0]
    band = np.zeros((text_h + baseline + 10, width, 3), np.uint8)
    scale *= min(1.0, (width - 8) / text_w)
    cv2.putText(band, text, (4, text_h + 5), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([band, img], axis=0)


def comparison_strip(blur, restored, sharp, gap=4):
    """Side by side: the blurry input and the restoration, each labelled with its PSNR against ``sharp``.

    Args:
        blur, restored, sharp (ndarray): H x W x 3 uint8 images (BGR, as BasicSR writes them).
        gap (int): White columns between panels.
    Returns:
        ndarray: The strip, uint8 BGR.
    """
    factor = max(1, -(-_MIN_PANEL_WIDTH // sharp.shape[1]))
    panels = [
        _panel(blur, f'blur {calculate_psnr(blur, sharp, 0):.2f} dB', factor),
        _panel(restored, f'restored {calculate_psnr(restored, sharp, 0):.2f} dB', factor),
        _panel(sharp, 'sharp', factor),
    ]
    spacer = np.full((panels[0].shape[0], gap, 3), 255, np.uint8)
    return np.concatenate([panels[0], spacer, panels[1], spacer, panels[2]], axis=1)
