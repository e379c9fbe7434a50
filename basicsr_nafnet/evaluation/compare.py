"""Multi-model comparisons: run models on chosen test images and draw one comparison figure per image.

The images are picked by key, or where a model gains (or loses) most PSNR in a leaderboard's
``per_image.csv``; the drawing itself is :func:`basicsr_nafnet.visualize.figures.comparison_figure`'s.
"""
import csv
import os

import torch
from tqdm import tqdm

from ..errors import UserError
from ..fileio import check_component
from ..inference import open_model, parse_model_spec
from ..ops.tiling import check_tiling, tiled_forward
from ..visualize.drawing import write_png
from ..visualize.figures import comparison_figure
from .runner import to_input, to_uint8
from .testset import open_testset

__all__ = ['compare_models', 'pick_keys']


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
        data (str): Test set (see :func:`~basicsr_nafnet.evaluation.testset.open_testset`).
        models (list[str | dict]): Model specs (see :mod:`~basicsr_nafnet.inference.spec`); each runs as
            :func:`~basicsr_nafnet.inference.open_model` opens it (the leaderboard's default path).
        out_dir (str): Where ``<key>.png`` figures go.
        keys (list[str] | None): Images to show. None: pick ``top`` from ``per_image_csv``, or the
            first ``top`` images when no CSV is given.
        per_image_csv (str | None): A leaderboard's ``per_image.csv`` to pick images from.
        top (int): Number of images to pick. mode (str): 'gain' or 'loss'.
        rank_by (str | None): Row of the CSV to rank by (default: the first model's name).
        tile (int | None), overlap (int): Tiled inference.
        crop_size (int | None), max_panel_width (int | None): See
            :func:`~basicsr_nafnet.visualize.figures.comparison_figure`.
        device (str): Torch device.

    Returns:
        list[str]: The written figure paths.
    """
    check_tiling(tile, overlap, 'tile', 'overlap')
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
    # an .onnx spec runs on ONNX Runtime (on the CPU; outputs come back to ``device``)
    nets = [(spec.name, open_model(spec, device).runner) for spec in specs]
    written = []
    for key in tqdm(keys, desc='figures', unit='img'):
        blur, sharp = testset.read(key)
        inp = to_input(blur, device)
        outputs = []
        with torch.inference_mode():
            for name, net in nets:
                outputs.append((name, to_uint8(tiled_forward(net, inp, tile=tile, overlap=overlap))))
        figure, _ = comparison_figure(blur, sharp, outputs, crop_size=crop_size, max_panel_width=max_panel_width)
        written.append(write_png(os.path.join(out_dir, f'{key}.png'), figure))
    return written
