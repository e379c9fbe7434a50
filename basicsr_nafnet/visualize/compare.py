"""Side-by-side comparison figures: blur | model A | model B | ... | sharp, with a zoomed crop.

Each panel is labelled with its PSNR against the sharp image. The crop sits where the models
differ most (the largest local spread of their outputs; with one model, where it changed the
input most), and is shown enlarged under every panel.
"""
import cv2
import numpy as np
from basicsr.metrics import calculate_psnr

from basicsr_nafnet.errors import UserError
from basicsr_nafnet.fileio import check_component

from .drawing import label_bar

__all__ = ['comparison_figure', 'compare_models', 'most_different_region', 'pick_keys']

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


def pick_keys(per_image, model, baseline='input', count=4, mode='gain'):
    """Keys of the ``count`` images where ``model`` gains (or loses) most PSNR over ``baseline``.

    Args:
        per_image (list[dict]): Rows of ``per_image.csv`` (``name``, ``variant``, ``key``, ``psnr``).
        model (str): Row name, optionally ``name:variant``; plain variant by default.
        baseline (str): Row to compare against (``input`` by default, the blurred images).
        count (int): How many keys.
        mode (str): 'gain' (largest improvement first) or 'loss' (largest drop first).
    """
    if mode not in ('gain', 'loss'):
        raise UserError(f"mode must be 'gain' or 'loss', got {mode!r}")

    def values(spec):
        name, _, variant = spec.partition(':')
        wanted = (variant, ) if variant else ('plain', 'identity')
        picked = {r['key']: float(r['psnr']) for r in per_image if r['name'] == name and r['variant'] in wanted}
        if not picked:
            names = sorted({f"{r['name']}:{r['variant']}" for r in per_image})
            raise UserError(f"no per-image results for '{spec}'; rows available: {', '.join(names)}")
        return picked

    a, b = values(model), values(baseline)
    delta = {k: a[k] - b[k] for k in a if k in b}
    return sorted(delta, key=lambda k: -delta[k] if mode == 'gain' else delta[k])[:count]


def _read_per_image(path):
    """Rows of a leaderboard's ``per_image.csv``; a file without its columns is refused by name."""
    import csv

    with open(path, newline='', encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    needed = {'name', 'variant', 'key', 'psnr'}
    if not rows or not needed <= set(rows[0]):
        raise UserError(f"{path}: not a leaderboard per_image.csv (needs the columns {', '.join(sorted(needed))})")
    return rows


def compare_models(data,
                   models,
                   out_dir,
                   keys=None,
                   per_image_csv=None,
                   top=4,
                   mode='gain',
                   rank_by=None,
                   tile=None,
                   overlap=32,
                   crop_size=None,
                   max_panel_width=640,
                   device='cpu'):
    """Run models on chosen test images and write one comparison figure per image.

    Args:
        data (str): Test set (see :func:`basicsr_nafnet.evaluation.open_testset`).
        models (list[str]): ``--model`` specs (see :mod:`basicsr_nafnet.evaluation.model_spec`).
        out_dir (str): Where ``<key>.png`` figures go.
        keys (list[str] | None): Images to show. None: pick ``top`` from ``per_image_csv``, or the
            first ``top`` images when no CSV is given.
        per_image_csv (str | None): A leaderboard's ``per_image.csv`` to pick images from.
        top (int): Number of images to pick. mode (str): 'gain' or 'loss'.
        rank_by (str | None): Row of the CSV to rank by (default: the first model's name).
        tile (int | None), overlap (int): Tiled inference.
        crop_size (int | None), max_panel_width (int | None): See :func:`comparison_figure`.
        device (str): Torch device.

    Returns:
        list[str]: The written figure paths.
    """
    import os

    import torch
    from tqdm import tqdm

    from basicsr_nafnet.evaluation import build_model, open_testset, parse_model_spec
    from basicsr_nafnet.evaluation.runner import to_uint8
    from basicsr_nafnet.inference import tiled_forward

    from .drawing import write_png

    testset = open_testset(data)
    specs = [parse_model_spec(m) for m in models]
    if not specs:
        raise UserError('compare_models needs at least one --model')
    if keys is None and per_image_csv:
        keys = pick_keys(_read_per_image(per_image_csv), rank_by or specs[0].name, count=top, mode=mode)
    keys = list(keys) if keys is not None else testset.keys[:top]
    unknown = [k for k in keys if k not in testset.keys]
    if unknown:
        raise UserError(f'{data}: no pair with key(s) {", ".join(unknown)}')
    for key in keys:  # each becomes <out_dir>/<key>.png
        check_component(key, f'image key {key!r}')
    nets = [(spec.name, build_model(spec, device)) for spec in specs]
    written = []
    for key in tqdm(keys, desc='figures', unit='img'):
        blur, sharp = testset.read(key)
        inp = torch.from_numpy(blur).permute(2, 0, 1)[None].to(device, torch.float32) / 255.
        outputs = []
        with torch.inference_mode():
            for name, net in nets:
                outputs.append((name, to_uint8(tiled_forward(net, inp, tile=tile, overlap=overlap))))
        figure, _ = comparison_figure(blur, sharp, outputs, crop_size=crop_size, max_panel_width=max_panel_width)
        written.append(write_png(os.path.join(out_dir, f'{key}.png'), figure))
    return written
