"""Drawing with OpenCV: labels, panels, line charts, and atomic PNG writes (no matplotlib needed)."""
import math

import cv2
import numpy as np

from basicsr_nafnet.fileio import atomic_write

__all__ = ['PALETTE', 'label_bar', 'line_chart', 'write_png']

FONT = cv2.FONT_HERSHEY_SIMPLEX
# distinguishable on white and in grey print (RGB)
PALETTE = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (23, 190, 207))


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


def _ticks(lo, hi, count=5):
    """Round tick values spanning [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    step = 10**math.floor(math.log10((hi - lo) / count))
    for mult in (1, 2, 5, 10):
        if (hi - lo) / (step * mult) <= count:
            step *= mult
            break
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 1)]


def _tick_text(v, log):
    if log:
        return f'{10**v:.1e}'
    return f'{v:.3g}' if abs(v) < 1e4 else f'{v:.2e}'


def line_chart(series, title, width=900, height=280, log_y=False, x_label='iteration'):
    """A line chart of several series as an RGB image.

    Args:
        series (dict[str, tuple[list, list]]): ``label -> (xs, ys)``.
        title (str): Shown above the plot.
        width, height (int): Image size in pixels.
        log_y (bool): Plot log10(y) (for learning rates); non-positive values are dropped.
        x_label (str): Below the x axis.

    Returns:
        ndarray: ``height x width x 3`` uint8 RGB.
    """
    img = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 70, 15, 28, 38
    cv2.putText(img, title, (left, 19), FONT, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    data = {}
    for name, (xs, ys) in series.items():
        pts = [(float(x), float(y)) for x, y in zip(xs, ys) if np.isfinite(y) and (y > 0 or not log_y)]
        if log_y:
            pts = [(x, math.log10(y)) for x, y in pts]
        if pts:
            data[name] = pts
    x0, y0, x1, y1 = left, top, width - right, height - bottom
    cv2.rectangle(img, (x0, y0), (x1, y1), (0, 0, 0), 1)
    if not data:
        cv2.putText(img, 'no data', ((x0 + x1) // 2 - 30, (y0 + y1) // 2), FONT, 0.5, (120, 120, 120), 1, cv2.LINE_AA)
        return img
    all_x = [p[0] for pts in data.values() for p in pts]
    all_y = [p[1] for pts in data.values() for p in pts]
    xmin, xmax = min(all_x), max(all_x)
    ymin, ymax = min(all_y), max(all_y)
    pad = (ymax - ymin) * 0.05 or abs(ymax) * 0.05 or 1.0
    ymin, ymax = ymin - pad, ymax + pad
    xmax = xmax if xmax > xmin else xmin + 1

    def to_px(x, y):
        return (int(round(x0 + (x - xmin) / (xmax - xmin) * (x1 - x0))),
                int(round(y1 - (y - ymin) / (ymax - ymin) * (y1 - y0))))

    for v in _ticks(ymin, ymax):
        _, py = to_px(xmin, v)
        cv2.line(img, (x0, py), (x1, py), (225, 225, 225), 1)
        cv2.putText(img, _tick_text(v, log_y), (4, py + 4), FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for v in _ticks(xmin, xmax):
        px, _ = to_px(v, ymin)
        cv2.line(img, (px, y1), (px, y1 + 4), (0, 0, 0), 1)
        cv2.putText(img, f'{v:g}', (px - 12, y1 + 17), FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, x_label, ((x0 + x1) // 2 - 30, height - 5), FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for i, (name, pts) in enumerate(data.items()):
        color = PALETTE[i % len(PALETTE)]
        poly = np.array([to_px(x, y) for x, y in sorted(pts)], np.int32)
        if len(poly) == 1:
            cv2.circle(img, tuple(int(c) for c in poly[0]), 3, color, -1)
        else:
            cv2.polylines(img, [poly], False, color, 1, cv2.LINE_AA)
        cv2.line(img, (x1 - 170, y0 + 14 + 16 * i), (x1 - 150, y0 + 14 + 16 * i), color, 2)
        cv2.putText(img, name[:24], (x1 - 145, y0 + 18 + 16 * i), FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return img
