"""Writing the leaderboard: markdown for the terminal, JSON and CSV files, per-image CSV.

Every file is written to a temporary name in its folder and renamed into place, so a crash never
leaves a half-written table.
"""
import csv
import io
import json
import math
import os

from ..fileio import atomic_write
from .complexity import MACS_NOTE

__all__ = ['ROW_FIELDS', 'markdown_table', 'write_outputs']

ROW_FIELDS = ('name', 'variant', 'psnr', 'ssim', 'ssim_2d', 'params', 'macs', 'runtime_s', 'peak_mem_mb', 'device',
              'engine', 'images', 'dataset', 'source', 'note', 'checkpoint')
SSIM_NOTE = ('SSIM: the GoPro protocol (MATLAB-style SSIM over the H x W x 3 volume, 11x11x11 Gaussian window); '
             'SSIM 2-D, where shown, is BasicSR\'s per-channel form, which scores lower. PSNR: RGB, uint8, crop 0.')


def _fmt(value, digits, scale=1.0):
    if value is None:
        return '-'
    if isinstance(value, float) and math.isinf(value):
        return 'inf'
    return f'{value / scale:.{digits}f}'


def _source_cell(row):
    """Where a row comes from: a published row names its one source and that it was not measured here."""
    if row.get('variant') == 'published':
        return f"{row['source']} ({row['note']})"
    return row.get('note') or row.get('source') or '-'


def _table(rows, ssim_2d):
    head = ['Model', 'Variant', 'PSNR (dB)', 'SSIM (3-D)'] + (['SSIM (2-D)'] if ssim_2d else []) + [
        'Params (M)', 'MACs (G)', 'Runtime (s/img, median)', 'Peak mem (MB)', 'Device', 'Source'
    ]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for r in rows:
        cells = [r['name'], r['variant'], _fmt(r['psnr'], 2), _fmt(r['ssim'], 4)]
        cells += [_fmt(r.get('ssim_2d'), 4)] if ssim_2d else []
        cells += [
            _fmt(r['params'], 3, 1e6),
            _fmt(r['macs'], 3, 1e9),
            _fmt(r['runtime_s'], 3),
            _fmt(r['peak_mem_mb'], 0), r['device'] or '-', _source_cell(r)
        ]
        lines.append('| ' + ' | '.join(str(c) for c in cells) + ' |')
    return lines


def markdown_table(rows, ssim_2d=False, testset_name=None):
    """The leaderboard as markdown with its footnotes: the rows measured here on ``testset_name``, then each other
    dataset's rows (the published ones) under a heading that names that dataset."""
    measured = [r for r in rows if r.get('variant') != 'published']
    others = {}
    for r in rows:
        if r.get('variant') == 'published':
            others.setdefault(r.get('dataset') or 'another dataset', []).append(r)
    lines = ([f'Measured here on {testset_name}:', ''] if testset_name and others else []) + _table(measured, ssim_2d)
    for dataset, group in others.items():
        lines += ['', f'Published on {dataset}, not measured here'
                  + (', so not comparable with the rows above' if dataset != testset_name else '') + ':', '']
        lines += _table(group, ssim_2d)
    notes = [
        f'Test set: {testset_name}.' if testset_name else None, SSIM_NOTE, MACS_NOTE,
        'Peak mem: CUDA max_memory_allocated during the row; on the CPU the process peak RSS so far '
        '(a high-water mark that includes earlier rows).',
        'Rows marked "published, not measured here" quote the one source named in the row; they were not run here.'
        if others else None
    ]
    return '\n'.join(lines) + '\n\n' + '\n'.join(f'- {n}' for n in notes if n) + '\n'


def _csv_text(fields, rows):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction='ignore', lineterminator='\n')
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_outputs(out_dir, rows, per_image):
    """Write ``leaderboard.json``, ``leaderboard.csv`` and ``per_image.csv`` into ``out_dir``.

    Args:
        out_dir (str): Output folder (created).
        rows (list[dict]): Leaderboard rows with :data:`ROW_FIELDS`.
        per_image (list[dict]): One dict per (row, image): ``name``, ``variant``, ``key``, ``psnr``, ``ssim``,
            [``ssim_2d``], ``runtime_s``.

    Returns:
        dict: ``{'json': path, 'csv': path, 'per_image': path}``.
    """
    paths = {
        k: os.path.join(out_dir, f)
        for k, f in (('json', 'leaderboard.json'), ('csv', 'leaderboard.csv'), ('per_image', 'per_image.csv'))
    }
    clean = [{
        k: (None if isinstance(r.get(k), float) and math.isinf(r[k]) else r.get(k))
        for k in ROW_FIELDS
    } for r in rows]
    atomic_write(paths['json'], json.dumps(clean, indent=2) + '\n')
    atomic_write(paths['csv'], _csv_text(ROW_FIELDS, clean))
    fields = ['name', 'variant', 'key', 'psnr', 'ssim'] + (['ssim_2d'] if any(
        'ssim_2d' in p for p in per_image) else []) + ['runtime_s']
    atomic_write(paths['per_image'], _csv_text(fields, per_image))
    return paths
