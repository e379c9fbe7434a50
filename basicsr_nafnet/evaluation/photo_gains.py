"""Where a ladder's gains come from: every run scored photograph by photograph, on fresh synthetic pairs.

A ladder's held-out pairs come from one or two photographs, so its table cannot tell a network that learned to
deblur from one that learned its training photographs. This scores the same checkpoints on new pairs of each
photograph (the generator's held-out draws with another seed, so none is a training pair): those the runs trained
on, the held-out ones, and others they never saw. Per photograph and rung: the mean gain over the blurred input
(mean over seeds, spread = half the range) and the top rung's lead over the bottom one.
"""
import json
import os

import numpy as np
import torch
from basicsr.metrics import calculate_psnr
from tqdm import tqdm

from ..fileio import atomic_write
from ..inference import open_model, tiled_forward
from .ladder import beyond_spread, half_range
from .runner import to_input, to_uint8

__all__ = ['PAIRS_SEED', 'ROLES', 'photo_pairs', 'photo_gains', 'photo_gains_markdown', 'write_photo_gains']

PAIRS_SEED = 1000  # not a ladder data seed: new camera paths and photograph windows
ROLES = ('training', 'held-out', 'never seen')  # a photograph's part in the runs' data, the table's order


def photo_pairs(photo, count, frame, blur_px, zoom=None, seed=PAIRS_SEED):
    """``count`` ``(blurred, sharp)`` pairs of one photograph, H x W x 3 uint8 RGB (the generator's test draws)."""
    from ..data.synthetic import synthetic_pairs

    pairs = synthetic_pairs('test', count, (frame, frame), seed, tuple(blur_px), zoom=zoom, photos=[photo])
    return [(np.ascontiguousarray(blur[:, :, ::-1]), np.ascontiguousarray(sharp[:, :, ::-1]))
            for *_, blur, sharp, _ in pairs]


def photo_gains(rungs, photos, count, frame, blur_px, zoom=None, device='cpu', progress=True):
    """Each rung's PSNR gain over the blurred input, photograph by photograph.

    Args:
        rungs (list[Rung]): As for the ladder report (:class:`~basicsr_nafnet.evaluation.ladder.Rung`), bottom
            first; at least two.
        photos (list[tuple[str, str]]): ``(photograph, role)``, role one of :data:`ROLES`.
        count (int): Pairs per photograph. frame (int): Their side.
        blur_px, zoom: The generator's camera path range and magnification, as the runs' data had them.

    Returns:
        list[dict]: Per photograph ``photo``, ``role``, ``input_psnr`` (mean over its pairs), ``gains`` (per rung
        ``label``, ``mean``, ``spread``, ``seeds``) and ``lead`` (top rung's mean gain minus the bottom's),
        ``lead_beyond_spread`` (above the two spreads summed).
    """
    nets = [[open_model(run.spec, device=device).net for run in rung.runs] for rung in rungs]
    rows = []
    bar = tqdm(total=len(photos), unit='photo', desc='gains by photograph', disable=not progress)
    for photo, role in photos:
        pairs = photo_pairs(photo, count, frame, blur_px, zoom)
        inputs = [float(calculate_psnr(blur, sharp, crop_border=0)) for blur, sharp in pairs]
        gains = []
        with torch.inference_mode():
            for rung, rung_nets in zip(rungs, nets):
                seeds = []
                for net in rung_nets:
                    scores = []
                    for blur, sharp in pairs:
                        inp = to_input(blur, device)
                        scores.append(float(calculate_psnr(to_uint8(tiled_forward(net, inp).cpu()), sharp,
                                                           crop_border=0)))
                    seeds.append(float(np.mean(scores)) - float(np.mean(inputs)))
                gains.append(dict(label=rung.label, mean=float(np.mean(seeds)), spread=half_range(seeds),
                                  seeds=seeds))
        lead = gains[-1]['mean'] - gains[0]['mean']
        rows.append(dict(photo=photo, role=role, input_psnr=float(np.mean(inputs)), gains=gains, lead=lead,
                         lead_beyond_spread=beyond_spread(lead, gains[-1]['spread'], gains[0]['spread'])))
        bar.update(1)
    bar.close()
    return sorted(rows, key=lambda r: ROLES.index(r['role']))


def _role_means(rows):
    """``(role, photographs, mean lead, median lead)`` per role present."""
    out = []
    for role in ROLES:
        leads = [r['lead'] for r in rows if r['role'] == role]
        if leads:
            out.append((role, len(leads), float(np.mean(leads)), float(np.median(leads))))
    return out


def photo_gains_markdown(rows, notes=()):
    """The table: one row per photograph, its role, input PSNR, each rung's gain and the top rung's lead."""
    labels = [g['label'] for g in rows[0]['gains']]
    top, bottom = labels[-1], labels[0]
    lines = ['| Photograph | Role in the runs\' data | Input PSNR (dB) | '
             + ' | '.join(f'{label} gain (dB), mean ± spread' for label in labels)
             + f' | {top} - {bottom} (dB) | Beyond the spread |',
             '| --- | --- | ---: | ' + ' | '.join('---:' for _ in labels) + ' | ---: | ---: |']
    for r in rows:
        lines.append(f"| {r['photo']} | {r['role']} | {r['input_psnr']:.2f} | "
                     + ' | '.join(f"{g['mean']:+.2f} ± {g['spread']:.2f}" for g in r['gains'])
                     + f" | {r['lead']:+.2f} | {'yes' if r['lead_beyond_spread'] else 'no'} |")
    summary = [f'{top} - {bottom}, over the {n} {role} photograph{"s" if n > 1 else ""}: mean {mean:+.2f} dB, '
               f'median {median:+.2f} dB.' for role, n, mean, median in _role_means(rows)]
    return '\n'.join(lines) + '\n\n' + ''.join(f'{line}\n' for line in [*summary, *notes])


def write_photo_gains(rows, out_dir, notes=(), meta=None):
    """``photo_gains.md`` and ``photo_gains.json`` into ``out_dir`` (each written whole, then renamed)."""
    paths = dict(markdown=os.path.join(out_dir, 'photo_gains.md'), json=os.path.join(out_dir, 'photo_gains.json'))
    atomic_write(paths['markdown'], '# Gains by photograph\n\n' + photo_gains_markdown(rows, notes))
    atomic_write(paths['json'], json.dumps(dict(rows=rows, notes=list(notes), meta=meta or {}), indent=1))
    return paths
