"""The ladder report: networks trained alike with several seeds each, scored alike at one iteration, side by side.

From the runs of the rungs (their checkpoints and BasicSR logs) it writes into one folder:

* ``ladder.md`` and ``ladder.json``: per rung the mean PSNR over its seeds and the spread (half the range:
  ``(max - min) / 2``), 3-D SSIM, parameters, MACs at 256x256, training time, inference time, and the gain
  over the previous rung, marked as beyond the spread only when it exceeds the two rungs' spreads summed
  (their seed ranges do not overlap);
* ``ladder.png``: the test image where the top rung gains most over the bottom rung (mean over seeds), the crop
  with the most gradient energy in the sharp image, the blurred input, every rung (its first seed) and the sharp
  image, each labelled with its PSNR on that image
  (:func:`~basicsr_nafnet.visualize.figures.comparison_figure`);
* ``ladder_curves.png``: validation PSNR against iteration per rung, the mean over seeds with the seeds' range
  as a band, the blurred input's PSNR as a dashed line.

Each run is also checked for collapse (:func:`detail_change`): a network whose every ReLU died outputs its input
plus a constant colour, a flat curve that looks like "learned all it could" but is not.

Scoring is :func:`~basicsr_nafnet.evaluation.leaderboard.run_leaderboard`'s (its per-image cache makes a
second run cheap).
"""
import json
import os
from collections import namedtuple

import cv2
import numpy as np
import torch

from ..errors import UserError
from ..fileio import atomic_write
from ..inference import open_model, tiled_forward
from ..visualize.drawing import write_png
from ..visualize.figures import comparison_figure
from ..visualize.plots import band_panel, draw_panels, save_png
from .complexity import MACS_NOTE
from .curves import read_experiment, training_seconds
from .leaderboard import run_leaderboard
from .report import SSIM_NOTE
from .runner import to_input, to_uint8
from .testset import open_testset

__all__ = ['Rung', 'Run', 'ladder_rows', 'half_range', 'beyond_spread', 'figure_key', 'sharpest_crop', 'seed_band',
           'detail_change', 'ladder_markdown', 'ladder_report', 'COLLAPSED_BELOW']

Run = namedtuple('Run', ['run_dir', 'spec'])
Run.__doc__ = 'One training run (one seed): its BasicSR experiment folder and the ``--model`` spec that scores it.'
Rung = namedtuple('Rung', ['label', 'change', 'runs', 'number'], defaults=(None, ))
Rung.__doc__ = ('One rung: its label in tables and figures, what changes from the previous rung, its runs '
                '(one per seed, first seed first) and its number on the whole ladder (None: its place in the list; '
                'a run of some rungs, --rungs 1,5, keeps the numbers 1 and 5).')


def _validation_psnr(run_dir):
    """``(iterations, PSNR)`` of the run's validations, from its logs."""
    series = read_experiment(run_dir)
    keys = sorted(k for k in series if k.endswith('/psnr'))
    if not keys:
        raise UserError(f'{run_dir}: its logs hold no validation PSNR (is val.val_freq set?)')
    return series[keys[0]]


# detail change (grey levels) under which a run is reported as collapsed: well below one grey level, while every
# run that learned anything in the ladders measured changed its input by 1-6 grey levels (docs/ladder-cpu.md)
COLLAPSED_BELOW = 0.1


def detail_change(net, testset, device='cpu'):
    """How much a network changes its inputs beyond a constant colour, in grey levels (0-255).

    The RMS over the test set of ``output - input`` after removing, per image and channel, its mean: 0 for the
    identity and for the identity plus any colour shift (what a residual network whose ReLUs all died computes).
    """
    total, count = 0.0, 0
    with torch.inference_mode():
        for key in testset.keys:
            blur, _ = testset.read(key)
            inp = to_input(blur, device)
            diff = (tiled_forward(net, inp) - inp).double() * 255
            diff -= diff.mean(dim=(2, 3), keepdim=True)
            total += float(diff.pow(2).sum())
            count += diff.numel()
    return (total / max(count, 1)) ** 0.5


def half_range(values):
    """The spread of a rung's seeds: half their range, ``(max - min) / 2`` (0 for none)."""
    return (max(values) - min(values)) / 2 if values else 0.0


def beyond_spread(difference, spread_a, spread_b):
    """Whether a difference of two means counts: ``|difference|`` above the two spreads summed (the seed ranges
    do not overlap). The one rule of the ladder's table and of the recipes' comparison."""
    return abs(difference) > spread_a + spread_b


def ladder_rows(board_rows, rungs, train_seconds, detail_changes=None):
    """The table's rows: the input, then one per rung (mean and spread over its seeds) and its gain over the row before.

    Args:
        board_rows (list[dict]): Leaderboard rows: ``input`` first, then one plain row per run, rung by rung
            in the order of ``rungs`` and their ``runs``.
        rungs (list[Rung]): The rungs, in order.
        train_seconds (list[list[float]]): Training time of each run, per rung.
        detail_changes (list[list[float]] | None): :func:`detail_change` of each run, per rung.

    Returns:
        list[dict]: ``rung`` (0 for the input), ``label``, ``change``, ``psnr`` (mean), ``psnr_seeds``, ``spread``
        (half the range), ``ssim`` (mean), ``gain_db``, ``gain_beyond_spread`` (``|gain|`` above the two spreads
        summed), ``params``, ``macs``, ``train_s``, ``inference_ms`` (means over seeds), ``detail_seeds`` (per
        seed, None when not given).
    """
    runs = sum(len(r.runs) for r in rungs)
    if len(board_rows) != runs + 1 or board_rows[0]['name'] != 'input':
        raise ValueError(f'expected the input row and {runs} run rows, got {[r["name"] for r in board_rows]}')
    first = board_rows[0]
    rows = [dict(rung=0, label='input (blurred)', change='-', psnr=first['psnr'], psnr_seeds=[first['psnr']],
                 spread=0.0, ssim=first['ssim'], gain_db=None, gain_beyond_spread=None, params=0, macs=0, train_s=None,
                 inference_ms=None, detail_seeds=None)]
    position = 1
    detail_changes = detail_changes or [None] * len(rungs)
    for i, (rung, seconds, details) in enumerate(zip(rungs, train_seconds, detail_changes), start=1):
        mine = board_rows[position:position + len(rung.runs)]
        position += len(rung.runs)
        psnrs = [r['psnr'] for r in mine]
        mean, spread = float(np.mean(psnrs)), half_range(psnrs)
        gain = mean - rows[-1]['psnr']
        rows.append(dict(rung=rung.number or i, label=rung.label, change=rung.change, psnr=mean, psnr_seeds=psnrs,
                         spread=spread, ssim=float(np.mean([r['ssim'] for r in mine])), gain_db=gain,
                         gain_beyond_spread=beyond_spread(gain, spread, rows[-1]['spread']), params=mine[0]['params'],
                         macs=mine[0]['macs'], train_s=float(np.mean(seconds)),
                         inference_ms=float(np.mean([r['runtime_s'] for r in mine])) * 1e3,
                         detail_seeds=None if details is None else [float(d) for d in details]))
    return rows


def figure_key(per_image, top_names, bottom_names):
    """The test image where the top rung gains most over the bottom rung, each the mean over its seeds' runs.

    Args:
        per_image (list[dict]): The leaderboard's per-image rows.
        top_names, bottom_names (sequence[str]): Leaderboard names of the two rungs' runs.
    """
    def mean_psnr(names):
        values = {}
        for r in per_image:
            if r['name'] in names and r['variant'] == 'plain':
                values.setdefault(r['key'], []).append(r['psnr'])
        return {k: float(np.mean(v)) for k, v in values.items()}

    top, bottom = mean_psnr(set(top_names)), mean_psnr(set(bottom_names))
    gains = {k: top[k] - bottom[k] for k in top if k in bottom}
    if not gains:
        raise ValueError(f'no per-image results for {top_names!r} and {bottom_names!r}')
    return max(sorted(gains), key=lambda k: gains[k])


def sharpest_crop(sharp, size):
    """Top-left ``(y, x)`` of the ``size`` x ``size`` window of ``sharp`` with the most gradient energy (edges)."""
    gray = cv2.cvtColor(sharp, cv2.COLOR_RGB2GRAY).astype(np.float32)
    energy = cv2.Sobel(gray, cv2.CV_32F, 1, 0) ** 2 + cv2.Sobel(gray, cv2.CV_32F, 0, 1) ** 2
    h, w = energy.shape
    size = min(size, h, w)
    integral = cv2.integral(energy)
    sums = (integral[size:, size:] - integral[:-size, size:] - integral[size:, :-size] + integral[:-size, :-size])
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(y), int(x)


def seed_band(curves):
    """Per-seed validation curves -> ``(iterations, mean, low, high)`` over the iterations every seed validated."""
    common = sorted(set.intersection(*(set(xs) for xs, _ in curves))) if curves else []
    values = [[dict(zip(xs, ys))[x] for xs, ys in curves] for x in common]
    return (common, [float(np.mean(v)) for v in values], [float(min(v)) for v in values],
            [float(max(v)) for v in values])


def _cell(value, spec, scale=1.0, sign=False):
    if value is None:
        return '-'
    return f'{value / scale:{"+" if sign else ""}{spec}}'


def ladder_markdown(rows, notes=()):
    """The ladder as a markdown table (one row per rung) followed by ``notes`` as a list."""
    head = ['#', 'Model', 'What changes from the previous rung', 'PSNR (dB), mean ± spread', 'Seeds (dB)',
            'Gain (dB)', 'Beyond the spread', 'SSIM (3-D)', 'Detail change (grey levels)', 'Params (M)', 'MACs (G)',
            'Train (min)', 'Inference (ms)']
    lines = ['| ' + ' | '.join(head) + ' |', '| ---: | --- | --- |' + ' ---: |' * (len(head) - 3)]
    for r in rows:
        beyond = '-' if r['gain_beyond_spread'] is None else ('yes' if r['gain_beyond_spread'] else 'no')
        cells = [str(r['rung']), r['label'], r['change'], f"{r['psnr']:.2f} ± {r['spread']:.2f}",
                 ', '.join(f'{p:.2f}' for p in r['psnr_seeds']) if r['rung'] else '-',
                 _cell(r['gain_db'], '.2f', sign=True), beyond, _cell(r['ssim'], '.4f'),
                 ', '.join(f'{d:.2f}' for d in r['detail_seeds']) if r.get('detail_seeds') else '-',
                 _cell(r['params'], '.3f', 1e6),
                 _cell(r['macs'], '.3f', 1e9), _cell(r['train_s'], '.1f', 60), _cell(r['inference_ms'], '.1f')]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n\n' + ''.join(f'- {n}\n' for n in notes)


def _collapse_note(rungs, details):
    collapsed = [f'{os.path.basename(os.path.normpath(run.run_dir))} ({d:.3f})'
                 for r, ds in zip(rungs, details) for run, d in zip(r.runs, ds) if d < COLLAPSED_BELOW]
    return [f"Collapsed runs (detail change below {COLLAPSED_BELOW:g} grey level): {', '.join(collapsed)}; the rung's "
            'mean includes them.'] if collapsed else []


def _draw_figure(testset, key, rungs, path, device):
    blur, sharp = testset.read(key)
    inp = to_input(blur, device)
    outputs = []
    with torch.inference_mode():
        for rung in rungs:
            net = open_model(rung.runs[0].spec, device=device).net
            outputs.append((rung.label, to_uint8(tiled_forward(net, inp).cpu())))
    size = max(8, min(blur.shape[:2]) // 2)  # half the shorter side: edges visible, zoomed 2x
    figure, info = comparison_figure(blur, sharp, outputs, crop=sharpest_crop(sharp, size), crop_size=size)
    write_png(path, figure)
    return dict(info, size=blur.shape[:2])


def ladder_report(data, rungs, out_dir, results_dir, notes=(), meta=None, log=print, device='cpu'):
    """Score the rungs' runs and write ``ladder.md``, ``ladder.json``, ``ladder.png`` and ``ladder_curves.png``.

    Args:
        data (str): The held-out test set (any form :func:`~basicsr_nafnet.evaluation.testset.open_testset` reads).
        rungs (list[Rung]): The trained rungs, bottom first, each with one run per seed.
        out_dir (str): Where the four files go.
        results_dir (str): The leaderboard's output and per-image cache.
        notes (sequence[str]): Lines under the table (recipe, machine, command).
        meta (dict | None): Stored in ``ladder.json`` beside the rows (recipe, machine, command).
        log (callable): Progress notes.
        device (str): Where the networks run for scoring and the figure.

    Returns:
        dict: ``rows``, ``markdown``, ``figure`` (``key``, ``crop``, ``psnr`` per panel), ``paths``.
    """
    if not rungs or not all(r.runs for r in rungs):
        raise UserError('the ladder needs at least one rung, each with at least one run')
    train_s = [[training_seconds(run.run_dir) for run in r.runs] for r in rungs]  # no logs: fails before scoring
    curves = {r.label: [_validation_psnr(run.run_dir) for run in r.runs] for r in rungs}
    board = run_leaderboard(data, models=[run.spec for r in rungs for run in r.runs], out_dir=results_dir, log=log,
                            device=device)
    testset = open_testset(data)
    log('[ladder] checking every run for collapse (detail change over the test set)')
    details = [[detail_change(open_model(run.spec, device=device).net, testset, device) for run in r.runs]
               for r in rungs]
    rows = ladder_rows(board['rows'], rungs, train_s, details)
    names = [row['name'] for row in board['rows'][1:]]
    top = names[-len(rungs[-1].runs):]
    bottom = names[:len(rungs[0].runs)] if len(rungs) > 1 else ['input']
    key = figure_key(board['per_image'], top, bottom)
    os.makedirs(out_dir, exist_ok=True)
    paths = {name: os.path.join(out_dir, f'ladder{suffix}') for name, suffix in
             (('markdown', '.md'), ('json', '.json'), ('figure', '.png'), ('curves', '_curves.png'))}
    info = _draw_figure(testset, key, rungs, paths['figure'], device)
    bands = {label: seed_band(runs) for label, runs in curves.items()}
    seeds = sorted({len(r.runs) for r in rungs})
    panel = band_panel(bands, f'validation PSNR (dB) on the {len(testset)} held-out pairs; mean and range of '
                       f'{"/".join(map(str, seeds))} seeds', reference=('input (blurred)', rows[0]['psnr']))
    save_png(draw_panels([panel], width=900, panel_height=420), paths['curves'])
    notes = list(notes) + [
        'PSNR: mean over the seeds; spread: half the range over the seeds, (max - min) / 2; Seeds: each seed\'s PSNR.',
        'Gain: mean PSNR over the previous rung (rung 1: over the blurred input); beyond the spread: |gain| larger '
        'than the two rungs\' spreads summed (their seed ranges do not overlap).',
        f'Figure (ladder.png): test image {key}, the one where the top rung gains most over the bottom rung (mean '
        'over seeds); the zoomed crop is the window with the most gradient energy in the sharp image; each rung is '
        'its first seed, labelled with its PSNR on that image.',
        'Curves (ladder_curves.png): validation PSNR of every rung, the mean over its seeds, their range as a band.',
        'Detail change: per seed, the RMS over the test set of output - input after removing each image\'s mean '
        'colour, in grey levels (0-255); below {:g} the run collapsed: it outputs its input plus a constant colour '
        '(a residual network whose ReLUs all died does), so its flat curve is not the limit of its design.'
        .format(COLLAPSED_BELOW),
        *_collapse_note(rungs, details),
        'Train: wall time of the training run from its BasicSR logs (set-up, iterations, validations; summed over '
        'resumed sessions), mean over seeds.',
        f'Inference: median per image over the {len(testset)} test images (batch 1, {info["size"][1]}x'
        f'{info["size"][0]}), float32, fused and channels_last where the arch allows (the leaderboard\'s default '
        'path), mean over seeds.', SSIM_NOTE, MACS_NOTE
    ]
    markdown = ladder_markdown(rows, notes)
    atomic_write(paths['markdown'], markdown)
    record = dict(meta or {}, rows=rows, notes=notes, figure=dict(key=key, crop=list(info['crop']), psnr=info['psnr']),
                  curves={label: [dict(iterations=list(xs), psnr=list(ys)) for xs, ys in runs]
                          for label, runs in curves.items()})
    atomic_write(paths['json'], json.dumps(record, indent=2) + '\n')
    return dict(rows=rows, markdown=markdown, figure=record['figure'], paths=paths)
