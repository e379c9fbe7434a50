"""Blur | restored | sharp strips written during validation."""
import cv2
import numpy as np
from basicsr.metrics import calculate_psnr

__all__ = ['comparison_strip']


def _label(img, text):
    """Write ``text`` on a dark band at the top of a BGR uint8 image (copy)."""
    img = img.copy()
    scale = max(0.4, img.shape[1] / 640)
    thickness = max(1, round(scale * 1.5))
    (_, text_h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    band = text_h + baseline + 8
    img[:band] = (img[:band] * 0.35).astype(np.uint8)
    cv2.putText(img, text, (6, band - baseline - 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness,
                cv2.LINE_AA)
    return img


def comparison_strip(blur, restored, sharp, gap=4):
    """Side by side: the blurry input and the restoration labelled with their PSNR against ``sharp``."""
    panels = [
        _label(blur, f'blur {calculate_psnr(blur, sharp, 0):.2f} dB'),
        _label(restored, f'restored {calculate_psnr(restored, sharp, 0):.2f} dB'),
        _label(sharp, 'sharp'),
    ]
    spacer = np.full((sharp.shape[0], gap, 3), 255, np.uint8)
    return np.concatenate([panels[0], spacer, panels[1], spacer, panels[2]], axis=1)
