"""One ladder under several recipes: the ``ladder.json`` of each budget side by side, rung by rung.

The ladder's own table compares rungs trained alike; this one compares recipes (budgets) of the same rungs, e.g.
``cpu-long`` against ``cpu-long-clip`` (the same runs with lr 1e-3 and gradient clipping), on the rungs every
ladder has (a ladder of the two ends, ``--rungs 1,5``, beside a full one). It writes:

* a markdown table (``OUT.md``): per rung, each recipe's mean PSNR ± spread with its seeds, and every later
  recipe's difference from the first, marked beyond the spread only when it exceeds the two spreads summed (the
  seed ranges do not overlap); then per recipe the top rung's gain over the bottom rung, marked the same way;
* a figure (``OUT.png``): one panel per rung, each recipe's validation PSNR against iteration (mean over seeds,
  their range as a band).

Example:
    python -m basicsr_nafnet.evaluation.ladder_recipes docs/ladder-cpu-long.json docs/ladder-cpu-long-clip.json \\
        --out docs/ladder-recipes.md
"""
import json
import os
import sys

from ..cli import ArgumentParser, check_output_file, command
from ..errors import UserError
from ..fileio import atomic_write
from ..visualize.plots import band_panel, draw_panels, save_png
from .ladder import beyond_spread, seed_band

__all__ = ['load_ladder', 'common_rungs', 'recipe_rows', 'top_over_bottom', 'held_out_inputs', 'recipe_markdown',
           'recipe_curves', 'compare_recipes']


def load_ladder(path):
    """A ``ladder.json`` as written by :func:`~basicsr_nafnet.evaluation.ladder.ladder_report`, checked.

    Raises:
        UserError: The file is missing, not JSON, or lacks the rows (``rung``, ``label``, ``psnr``, ``spread``,
            ``psnr_seeds``) a comparison needs: one input row (rung 0) and at least one trained rung.
    """
    try:
        with open(path, encoding='utf-8') as f:
            record = json.load(f)
    except FileNotFoundError:
        raise UserError(f'{path}: no such file (give the ladder.json a ladder run wrote)') from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f'{path}: not a ladder.json ({err})') from None
    rows = record.get('rows') if isinstance(record, dict) else None
    needed = ('rung', 'label', 'psnr', 'spread', 'psnr_seeds')
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) and all(k in r for k in needed)
                                                         for r in rows):
        raise UserError(f"{path}: not a ladder.json (expected 'rows', each with {', '.join(needed)})")
    if sum(not r['rung'] for r in rows) != 1 or all(not r['rung'] for r in rows):
        raise UserError(f'{path}: not a ladder.json (expected one input row, rung 0, and at least one trained rung)')
    return record


def _name(record, path):
    budget = record.get('budget')
    return budget.get('name') if isinstance(budget, dict) and budget.get('name') else os.path.basename(path)


def _input_row(record):
    return next(r for r in record['rows'] if not r['rung'])


def common_rungs(ladders):
    """The rung labels every ladder has, in the first ladder's order, and those left out (in some ladders only).

    A ladder trained on a subset of the rungs (``python -m basicsr_nafnet.ladder --rungs 1,5``) is compared with a
    full one on the rungs they share; the input row (rung 0) is in every ladder.

    Raises:
        UserError: The ladders share no trained rung.
    """
    labels = [[r['label'] for r in record['rows'] if r['rung']] for _, record in ladders]
    shared = [label for label in labels[0] if all(label in these for these in labels[1:])]
    if not shared:
        listed = '; '.join(f"{name}: {', '.join(these)}" for (name, _), these in zip(ladders, labels))
        raise UserError(f'the ladders share no rung ({listed}); compare ladders that share rungs')
    left_out = [label for these in labels for label in these if label not in shared]
    return shared, list(dict.fromkeys(left_out))


def recipe_rows(ladders):
    """Per rung every ladder has, each recipe's numbers and every later recipe's difference from the first.

    Args:
        ladders (list[tuple[str, dict]]): ``(recipe name, ladder record)``, the reference recipe first.

    Returns:
        list[dict]: the input row, then per shared rung (:func:`common_rungs`): ``rung`` (its number in the first
        ladder), ``label``, ``recipes`` (per recipe ``psnr``, ``spread``, ``psnr_seeds``), ``diffs`` (per later
        recipe ``diff_db`` from the first and ``beyond_spread``).
    """
    shared, _ = common_rungs(ladders)
    by_label = [{r['label']: r for r in record['rows'] if r['rung']} for _, record in ladders]
    rows = []
    for label in [None] + shared:  # None: the input row
        found = [table[label] if label else _input_row(record) for table, (_, record) in zip(by_label, ladders)]
        recipes = [dict(name=name, psnr=float(r['psnr']), spread=float(r['spread']),
                        psnr_seeds=[float(p) for p in r['psnr_seeds']]) for (name, _), r in zip(ladders, found)]
        first = recipes[0]
        diffs = [dict(name=r['name'], diff_db=r['psnr'] - first['psnr'],
                      beyond_spread=beyond_spread(r['psnr'] - first['psnr'], r['spread'], first['spread']))
                 for r in recipes[1:]]
        rows.append(dict(rung=found[0]['rung'], label=found[0]['label'], recipes=recipes, diffs=diffs))
    return rows


def top_over_bottom(rows):
    """Per recipe the top rung's gain over the bottom rung (rung 1): ``name, gain_db, beyond_spread``."""
    rungs = [r for r in rows if r['rung']]
    bottom, top = rungs[0], rungs[-1]
    gains = [(b['name'], t['psnr'] - b['psnr'], t['spread'], b['spread'])
             for b, t in zip(bottom['recipes'], top['recipes'])]
    return [dict(name=name, gain_db=gain, beyond_spread=gain > 0 and beyond_spread(gain, *spreads))
            for name, gain, *spreads in gains]


def _yes(flag):
    return 'yes' if flag else 'no'


def recipe_markdown(rows, notes=()):
    """The comparison as a markdown table, the top-over-bottom lines, then ``notes`` as a list."""
    names = [r['name'] for r in rows[0]['recipes']]
    head = ['#', 'Rung'] + [f'{n}: PSNR (dB), mean ± spread (seeds)' for n in names]
    head += [f'{n} - {names[0]} (dB), beyond the spread' for n in names[1:]]
    lines = ['| ' + ' | '.join(head) + ' |', '| ---: | --- |' + ' ---: |' * (len(head) - 2)]
    for row in rows:
        cells = [str(row['rung']), row['label']]
        cells += [f"{r['psnr']:.2f} ± {r['spread']:.2f}" + (' (' + ', '.join(f'{p:.2f}' for p in r['psnr_seeds'])
                                                           + ')' if row['rung'] else '') for r in row['recipes']]
        cells += [f"{d['diff_db']:+.2f}, {_yes(d['beyond_spread'])}" if row['rung'] else '-' for d in row['diffs']]
        lines.append('| ' + ' | '.join(cells) + ' |')
    rungs = [r for r in rows if r['rung']]
    gains = [f"{g['name']}: {g['gain_db']:+.2f} dB (beyond the spread: {_yes(g['beyond_spread'])})"
             for g in top_over_bottom(rows)]
    summary = f"{rungs[-1]['label']} - {rungs[0]['label']}, per recipe: " + '; '.join(gains) + '.'
    notes = [summary, 'Spread: half the range over the seeds; a difference counts as beyond the spread only when it '
             'exceeds the two spreads summed (the seed ranges do not overlap).'] + list(notes)
    return '\n'.join(lines) + '\n\n' + ''.join(f'- {n}\n' for n in notes)


def held_out_inputs(ladders):
    """The blurred input's PSNR on each ladder's held-out set, to 0.01 dB, sorted: one value when all share a set."""
    return sorted({round(float(_input_row(record)['psnr']), 2) for _, record in ladders})


def recipe_curves(ladders, path, width=900):
    """One panel per rung: each recipe's validation PSNR (mean over seeds, range as a band); writes ``path``."""
    labels, _ = common_rungs(ladders)
    inputs = held_out_inputs(ladders)
    reference = ('input (blurred)', inputs[0]) if len(inputs) == 1 else None  # one line only for one test set
    panels = []
    for label in labels:
        bands = {}
        for name, record in ladders:
            runs = (record.get('curves') or {}).get(label) or []
            bands[name] = seed_band([(run['iterations'], run['psnr']) for run in runs])
        panels.append(band_panel(bands, f'{label}: validation PSNR (dB), mean and seed range per recipe',
                                 reference=reference))
    return save_png(draw_panels(panels, width=width, panel_height=260), path)


def compare_recipes(paths, out, names=None):
    """Read the ``ladder.json`` files, write ``out`` (markdown) and the figure beside it (``.png``).

    Args:
        paths (list[str]): Two or more ``ladder.json``, the reference recipe first.
        out (str): The markdown file; the figure is the same path with ``.png``.
        names (list[str] | None): Recipe names (default: each file's budget name).

    Returns:
        dict: ``rows`` (:func:`recipe_rows`), ``markdown``, ``paths`` (``markdown``, ``figure``).
    """
    if len(paths) < 2:
        raise UserError('give at least two ladder.json files to compare')
    if names is not None and len(names) != len(paths):
        raise UserError(f'--names: {len(names)} name(s) for {len(paths)} file(s); give one per file')
    records = [load_ladder(p) for p in paths]
    names = names or [_name(r, p) for r, p in zip(records, paths)]
    ladders = list(zip(names, records))
    rows = recipe_rows(ladders)
    _, left_out = common_rungs(ladders)
    notes = [f"Rungs not in every ladder, left out: {', '.join(left_out)}."] if left_out else []
    notes += [f"{name}: `{record.get('command', '?')}`; recipe: {record.get('recipe', '?')}; compared at iteration "
             f"{record.get('compared_iteration', '?')}; machine: {record.get('machine', '?')}."
             for name, record in ladders]
    inputs = held_out_inputs(ladders)
    if len(inputs) > 1:  # another held-out set: the differences mix the recipe with the data
        notes.insert(0, f"The ladders were scored on different held-out sets (input PSNR "
                     f"{', '.join(f'{p:.2f}' for p in inputs)} dB): the differences mix the recipes with their data.")
    markdown = recipe_markdown(rows, notes)
    figure = os.path.splitext(out)[0] + '.png'
    recipe_curves(ladders, figure)
    atomic_write(out, markdown)
    return dict(rows=rows, markdown=markdown, paths=dict(markdown=out, figure=figure))


@command()
def main(argv=None, prog='python -m basicsr_nafnet.evaluation.ladder_recipes'):
    p = ArgumentParser(prog=prog, description=__doc__)
    p.add_argument('ladders', nargs='+', help='ladder.json files, the reference recipe first')
    p.add_argument('--out', required=True, help='markdown file to write; the figure goes beside it as .png')
    p.add_argument('--names', nargs='+', default=None, help='a name per file (default: its budget name)')
    args = p.parse_args(argv)
    check_output_file(args.out, '--out', suffixes=('.md', ))
    result = compare_recipes(args.ladders, args.out, args.names)
    print(result['markdown'])
    for path in result['paths'].values():
        print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
