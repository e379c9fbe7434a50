"""The ladder report: networks trained alike (the demo's ``--ladder``), scored alike, shown side by side.

From the runs of the rungs (their checkpoints and BasicSR logs) it writes into one folder:

* ``ladder.md`` and ``ladder.json``: per rung PSNR, 3-D SSIM, parameters, MACs at 256x256, training
  time, inference time at the test images' size, and the gain over the previous rung (the first rung's
  over the blurred input);
* ``ladder.png``: one test image, the same zoomed crop from the blurred input, every rung and the
  sharp image, each labelled with its PSNR on that image
  (:func:`~basicsr_nafnet.visualize.figures.comparison_figure`);
* ``ladder_curves.png``: validation PSNR against iteration for every rung, read from the logs, with
  the blurred input's PSNR as a dashed line.

Scoring is :func:`~basicsr_nafnet.evaluation.leaderboard.run_leaderboard`'s (its per-image cache makes a
second run cheap).
"""
import json
import os
from collections import namedtuple

import torch

from ..errors import UserError
from ..fileio import atomic_write
from ..inference import open_model, tiled_forward
from ..visualize.drawing import write_png
from ..visualize.figures import comparison_figure
from ..visualize.plots import draw_panels, metric_panel, save_png
from .complexity import MACS_NOTE
from .curves import read_experiment, training_seconds
from .leaderboard import run_leaderboard
from .report import SSIM_NOTE
from .runner import to_uint8
from .testset import open_testset

__all__ = ['Rung', 'ladder_rows', 'figure_key', 'ladder_markdown', 'ladder_report']

Rung = namedtuple('Rung', ['label', 'change', 'run_dir', 'spec'])
Rung.__doc__ = ('One rung: its label in tables and figures, what changes from the previous rung, its BasicSR '
                'experiment folder (logs, checkpoints), and the model spec (string or dict) that scores it.')


def _validation_psnr(run_dir):
    """``(iterations, PSNR)`` of the run's validations, from its logs."""
    series = read_experiment(run_dir)
    keys = sorted(k for k in series if k.endswith('/psnr'))
    if not keys:
        raise UserError(f'{run_dir}: its logs hold no validation PSNR (is val.val_freq set?)')
    return series[keys[0]]


def ladder_rows(board_rows, rungs, train_seconds):
    """The table's rows: the input, then one per rung with its gain over the row before.

    Args:
        board_rows (list[dict]): Leaderboard rows: ``input`` first, then one plain row per rung, in order.
        rungs (list[Rung]): The rungs, in order.
        train_seconds (list[float]): Training time of each rung.

    Returns:
        list[dict]: ``rung`` (0 for the input), ``label``, ``change``, ``psnr``, ``ssim``, ``gain_db``,
        ``params``, ``macs``, ``train_s``, ``inference_ms``.
    """
    if len(board_rows) != len(rungs) + 1 or board_rows[0]['name'] != 'input':
        raise ValueError(f'expected the input row and {len(rungs)} rung rows, got {[r["name"] for r in board_rows]}')
    rows = [dict(rung=0, label='input (blurred)', change='-', psnr=board_rows[0]['psnr'], ssim=board_rows[0]['ssim'],
                 gain_db=None, params=0, macs=0, train_s=None, inference_ms=None)]
    for i, (rung, row, seconds) in enumerate(zip(rungs, board_rows[1:], train_seconds), start=1):
        rows.append(dict(rung=i, label=rung.label, change=rung.change, psnr=row['psnr'], ssim=row['ssim'],
                         gain_db=row['psnr'] - rows[-1]['psnr'], params=row['params'], macs=row['macs'],
                         train_s=seconds, inference_ms=row['runtime_s'] * 1e3))
    return rows


def figure_key(per_image, name):
    """The test image where ``name`` gains its median PSNR over the input (the lower median): a typical image."""
    gains = {}
    inputs = {r['key']: r['psnr'] for r in per_image if r['name'] == 'input'}
    for r in per_image:
        if r['name'] == name and r['variant'] == 'plain' and r['key'] in inputs:
            gains[r['key']] = r['psnr'] - inputs[r['key']]
    if not gains:
        raise ValueError(f'no per-image results for {name!r}')
    ordered = sorted(gains, key=lambda k: (gains[k], k))
    return ordered[(len(ordered) - 1) // 2]


def _cell(value, spec, scale=1.0, sign=False):
    if value is None:
        return '-'
    return f'{value / scale:{"+" if sign else ""}{spec}}'


def ladder_markdown(rows, notes=()):
    """The ladder as a markdown table (one row per rung) followed by ``notes`` as a list."""
    head = ['#', 'Model', 'What changes from the previous rung', 'PSNR (dB)', 'Gain (dB)', 'SSIM (3-D)', 'Params (M)',
            'MACs (G)', 'Train (min)', 'Inference (ms)']
    lines = ['| ' + ' | '.join(head) + ' |', '| ---: | --- | --- |' + ' ---: |' * (len(head) - 3)]
    for r in rows:
        cells = [str(r['rung']), r['label'], r['change'], _cell(r['psnr'], '.2f'),
                 _cell(r['gain_db'], '.2f', sign=True), _cell(r['ssim'], '.4f'), _cell(r['params'], '.3f', 1e6),
                 _cell(r['macs'], '.3f', 1e9), _cell(r['train_s'], '.1f', 60), _cell(r['inference_ms'], '.1f')]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n\n' + ''.join(f'- {n}\n' for n in notes)


def _draw_figure(testset, key, rungs, path):
    blur, sharp = testset.read(key)
    inp = torch.from_numpy(blur).permute(2, 0, 1)[None].float() / 255.
    outputs = []
    with torch.inference_mode():
        for rung in rungs:
            net = open_model(rung.spec).net
            outputs.append((rung.label, to_uint8(tiled_forward(net, inp))))
    figure, info = comparison_figure(blur, sharp, outputs)
    write_png(path, figure)
    return dict(info, size=blur.shape[:2])


def ladder_report(data, rungs, out_dir, results_dir, notes=(), meta=None, log=print):
    """Score the rungs and write ``ladder.md``, ``ladder.json``, ``ladder.png`` and ``ladder_curves.png``.

    Args:
        data (str): The held-out test set (any form :func:`~basicsr_nafnet.evaluation.testset.open_testset` reads).
        rungs (list[Rung]): The trained rungs, bottom first.
        out_dir (str): Where the four files go.
        results_dir (str): The leaderboard's output and per-image cache.
        notes (sequence[str]): Lines under the table (recipe, machine, command).
        meta (dict | None): Stored in ``ladder.json`` beside the rows (recipe, machine, command).
        log (callable): Progress notes.

    Returns:
        dict: ``rows``, ``markdown``, ``figure`` (``key``, ``crop``, ``psnr`` per panel), ``paths``.
    """
    if not rungs:
        raise UserError('the ladder needs at least one rung')
    train_s = [training_seconds(r.run_dir) for r in rungs]  # a run without logs fails before the scoring
    curves = {r.label: _validation_psnr(r.run_dir) for r in rungs}
    board = run_leaderboard(data, models=[r.spec for r in rungs], out_dir=results_dir, log=log)
    rows = ladder_rows(board['rows'], rungs, train_s)
    key = figure_key(board['per_image'], board['rows'][-1]['name'])
    testset = open_testset(data)
    paths = {name: os.path.join(out_dir, f'ladder{suffix}') for name, suffix in
             (('markdown', '.md'), ('json', '.json'), ('figure', '.png'), ('curves', '_curves.png'))}
    info = _draw_figure(testset, key, rungs, paths['figure'])
    panel = metric_panel(curves, f'validation PSNR (dB) on the {len(testset)} held-out pairs, during training',
                         reference=('input (blurred)', rows[0]['psnr']))
    save_png(draw_panels([panel], width=900, panel_height=420), paths['curves'])
    notes = list(notes) + [
        f'Figure (ladder.png): test image {key}, the one where the top rung gains its median PSNR over the input; '
        'labels are PSNR on that image, the zoomed crop is where the rungs differ most.',
        'Gain: PSNR over the previous rung (rung 1: over the blurred input).',
        'Train: wall time of the training run from its BasicSR logs (set-up, iterations, validations; summed over '
        'resumed sessions).',
        f'Inference: median per image over the {len(testset)} test images (batch 1, {info["size"][1]}x'
        f'{info["size"][0]}), float32, fused and channels_last where the arch allows (the leaderboard\'s default '
        'path).', SSIM_NOTE, MACS_NOTE
    ]
    markdown = ladder_markdown(rows, notes)
    atomic_write(paths['markdown'], markdown)
    record = dict(meta or {}, rows=rows, notes=notes, figure=dict(key=key, crop=list(info['crop']), psnr=info['psnr']),
                  curves={label: dict(iterations=list(xs), psnr=list(ys)) for label, (xs, ys) in curves.items()})
    atomic_write(paths['json'], json.dumps(record, indent=2) + '\n')
    return dict(rows=rows, markdown=markdown, figure=record['figure'], paths=paths)
