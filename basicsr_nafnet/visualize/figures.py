"""Side-by-side comparison figures of arrays it is given: blur | model A | model B | ... | sharp, with a zoomed crop.

Each panel is labelled with its PSNR against the sharp image. The crop sits where the models
differ most (the largest local spread of their outputs; with one model, where it changed the
input most), and is shown enlarged under every panel. Running the models is
:func:`basicsr_nafnet.evaluation.compare.compare_models`'s job.
"""
import cv2
import numpy as np
from basicsr.metrics import calculate_psnr

from .drawing import label_bar

__all__ = ['comparison_figure', 'most_different_region']

GAP = 4


def most_different_region(images, size):
    """Top-left ``(y, x)`` of the ``size`` x ``size`` window where ``images`` disagree most.

    Args:
        images (list[ndarray]): H x W x 3 arrays; with one image, pass it with the blurred input.
        size (int): Window side.
    """
    stack = np.stack([im.astype(np.float32) for im in images])
    spread = stack.std(0).mean(-1)
    h, w = spread.shape
    size = min(size, h, w)
    local = cv2.boxFilter(spread, -1, (size, size), normalize=True, borderType=cv2.BORDER_CONSTANT)
    r = size // 2  # boxFilter centres the window; keep windows that fit inside the image
    valid = local[r:h - size + r + 1, r:w - size + r + 1]
    y, x = np.unravel_index(int(np.argmax(valid)), valid.shape)
    return int(y), int(x)


def comparison_figure(blur, sharp, outputs, crop=None, crop_size=None, max_panel_width=None):
    """Build the comparison figure.

    Args:
        blur (ndarray): H x W x 3 uint8 RGB blurred input.
        sharp (ndarray): Its sharp reference, same shape.
        outputs (list[tuple[str, ndarray]]): ``(model name, restored image)`` pairs, same shape.
        crop (tuple[int, int] | None): Top-left of the zoomed region; None picks
            :func:`most_different_region`.
        crop_size (int | None): Side of the zoomed region; None: a quarter of the shorter side.
        max_panel_width (int | None): Downscale panels wider than this (the crop is taken at full
            resolution first).

    Returns:
        tuple[ndarray, dict]: The RGB figure and ``{'crop': (y, x, size), 'psnr': {name: dB}}``.
        Its size is ``(28 + h + GAP + z) x (n * w + (n - 1) * GAP)`` for ``n`` panels of ``w`` x ``h``
        after scaling and zoom side ``z = min(w, h)``.
    """
    for name, img in [('sharp', sharp)] + list(outputs):
        if img.shape != blur.shape:
            raise ValueError(f'comparison_figure: {name} is {img.shape}, the blurred input {blur.shape}')
    h, w = blur.shape[:2]
    size = crop_size or max(8, min(h, w) // 4)
    size = min(size, h, w)
    if crop is None:
        images = [img for _, img in outputs]
        crop = most_different_region(images if len(images) > 1 else images + [blur], size)
    y, x = crop
    panels = [('blur', blur)] + list(outputs) + [('sharp', sharp)]
    psnr = {name: float(calculate_psnr(img, sharp, 0)) for name, img in panels[:-1]}
    scale = min(1.0, max_panel_width / w) if max_panel_width else 1.0
    pw, ph = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    zoom = min(pw, ph)
    columns = []
    for name, img in panels:
        view = img if scale == 1.0 else cv2.resize(img, (pw, ph), interpolation=cv2.INTER_AREA)
        view = view.copy()
        p0 = (int(x * scale), int(y * scale))
        p1 = (int((x + size) * scale) - 1, int((y + size) * scale) - 1)
        cv2.rectangle(view, p0, p1, (255, 0, 0), max(1, pw // 400))
        text = f'{name}  (reference)' if name == 'sharp' else f'{name}  {psnr[name]:.2f} dB'
        zoomed = cv2.resize(img[y:y + size, x:x + size], (zoom, zoom), interpolation=cv2.INTER_NEAREST)
        zslot = np.full((zoom, pw, 3), 255, np.uint8)
        zslot[:, (pw - zoom) // 2:(pw - zoom) // 2 + zoom] = zoomed
        gap = np.full((GAP, pw, 3), 255, np.uint8)
        columns.append(np.concatenate([label_bar(text, pw), view, gap, zslot], axis=0))
    spacer = np.full((columns[0].shape[0], GAP, 3), 255, np.uint8)
    figure = np.concatenate([c for col in columns for c in (col, spacer)][:-1], axis=1)
    return figure, dict(crop=(y, x, size), psnr=psnr)
