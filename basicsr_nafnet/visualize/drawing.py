"""Drawing with OpenCV: labels and atomic PNG writes of RGB arrays (line charts are matplotlib's, in plots.py)."""
import cv2
import numpy as np

from basicsr_nafnet.fileio import atomic_write

__all__ = ['label_bar', 'write_png']

FONT = cv2.FONT_HERSHEY_SIMPLEX


def write_png(path, rgb):
    """Write an RGB uint8 image as PNG through a temporary file renamed into place."""
    ok, buf = cv2.imencode('.png', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f'{path}: OpenCV could not encode the figure')
    return atomic_write(path, buf.tobytes())


def _fit_text(text, width, scale=0.5, thickness=1):
    """Shrink the font until ``text`` fits ``width`` pixels."""
    while scale > 0.25:
        (w, h), _ = cv2.getTextSize(text, FONT, scale, thickness)
        if w <= width - 8:
            break
        scale -= 0.05
    return scale


def label_bar(text, width, height=28, fg=(255, 255, 255), bg=(0, 0, 0)):
    """A ``height`` x ``width`` RGB strip with ``text`` centred."""
    bar = np.full((height, width, 3), bg, np.uint8)
    scale = _fit_text(text, width)
    (w, h), _ = cv2.getTextSize(text, FONT, scale, 1)
    cv2.putText(bar, text, ((width - w) // 2, (height + h) // 2), FONT, scale, fg, 1, cv2.LINE_AA)
    return bar
