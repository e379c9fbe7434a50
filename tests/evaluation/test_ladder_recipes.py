"""One ladder under two recipes, side by side: hand-computed differences, the spread rule, bad input in one line."""
import json
import os

import cv2
import pytest

from basicsr_nafnet.errors import UserError
from basicsr_nafnet.evaluation.ladder_recipes import compare_recipes, main, recipe_rows, top_over_bottom

LABELS = ('input (blurred)', 'Small', 'Big')


def _record(name, psnrs, seeds, input_psnr=20.0):
    """A ladder.json as ladder_report writes it, cut to what the comparison reads."""
    rows = [dict(rung=0, label=LABELS[0], psnr=input_psnr, spread=0.0, psnr_seeds=[input_psnr])]
    curves = {}
    for i, (label, psnr, pair) in enumerate(zip(LABELS[1:], psnrs, seeds), start=1):
        rows.append(dict(rung=i, label=label, psnr=psnr, spread=(max(pair) - min(pair)) / 2, psnr_seeds=list(pair)))
        curves[label] = [dict(iterations=[10, 20], psnr=[input_psnr, p]) for p in pair]
    return dict(budget=dict(name=name), command=f'ladder --budget {name}', recipe=f'{name} recipe',
                compared_iteration=20, machine='test', rows=rows, curves=curves)


# A: Small 21.0 ± 0.1, Big 22.0 ± 0.2; B: Small 21.5 ± 0.1, Big 22.1 ± 0.3
A = _record('plain', [21.0, 22.0], [(21.1, 20.9), (22.2, 21.8)])
B = _record('clipped', [21.5, 22.1], [(21.6, 21.4), (22.4, 21.8)])


def _write(tmp_path, name, record):
    path = tmp_path / f'{name}.json'
    path.write_text(json.dumps(record))
    return str(path)


def test_differences_from_the_first_recipe_count_only_beyond_both_spreads():
    rows = recipe_rows([('plain', A), ('clipped', B)])
    small, big = rows[1], rows[2]
    # Small: 21.5 - 21.0 = +0.5 > 0.1 + 0.1; Big: 22.1 - 22.0 = +0.1 < 0.2 + 0.3
    assert small['diffs'][0]['diff_db'] == pytest.approx(0.5) and small['diffs'][0]['beyond_spread']
    assert big['diffs'][0]['diff_db'] == pytest.approx(0.1) and not big['diffs'][0]['beyond_spread']
    assert [r['spread'] for r in big['recipes']] == pytest.approx([0.2, 0.3])
    # top over bottom: plain 22.0 - 21.0 = 1.0 > 0.3; clipped 22.1 - 21.5 = 0.6 > 0.4
    gains = top_over_bottom(rows)
    assert [g['gain_db'] for g in gains] == pytest.approx([1.0, 0.6])
    assert [g['beyond_spread'] for g in gains] == [True, True]


def test_top_over_bottom_inside_the_spread_is_not_counted():
    wide = _record('wide', [21.0, 21.5], [(21.3, 20.7), (21.8, 21.2)])  # 0.5 < 0.3 + 0.3
    gains = top_over_bottom(recipe_rows([('wide', wide), ('plain', A)]))
    assert gains[0]['gain_db'] == pytest.approx(0.5) and not gains[0]['beyond_spread']


def test_report_and_figure_are_written(tmp_path):
    out = tmp_path / 'out' / 'recipes.md'
    result = compare_recipes([_write(tmp_path, 'a', A), _write(tmp_path, 'b', B)], str(out))
    text = out.read_text()
    assert '| 1 | Small | 21.00 ± 0.10 (21.10, 20.90) | 21.50 ± 0.10 (21.60, 21.40) | +0.50, yes |' in text
    assert '| 2 | Big | 22.00 ± 0.20 (22.20, 21.80) | 22.10 ± 0.30 (22.40, 21.80) | +0.10, no |' in text
    assert 'Big - Small, per recipe: plain: +1.00 dB (beyond the spread: yes); clipped: +0.60 dB' in text
    assert 'different held-out sets' not in text
    figure = cv2.imread(result['paths']['figure'])
    assert figure is not None and figure.shape[:2] == (2 * 260, 900)  # one panel per rung, stacked
    assert sorted(os.listdir(out.parent)) == ['recipes.md', 'recipes.png']


def test_different_test_sets_are_said(tmp_path):
    other = _record('other-data', [21.0, 22.0], [(21.1, 20.9), (22.2, 21.8)], input_psnr=20.5)
    text = compare_recipes([_write(tmp_path, 'a', A), _write(tmp_path, 'o', other)],
                           str(tmp_path / 'r.md'))['markdown']
    assert 'different held-out sets (input PSNR 20.00, 20.50 dB)' in text


def test_a_ladder_of_some_rungs_is_compared_on_the_rungs_both_have(tmp_path):
    three = _record('three', [21.0, 22.0], [(21.1, 20.9), (22.2, 21.8)])
    three['rows'].insert(2, dict(rung=2, label='Middle', psnr=21.5, spread=0.0, psnr_seeds=[21.5, 21.5]))
    three['rows'][3]['rung'] = 3
    ends = _record('ends', [21.4, 22.9], [(21.5, 21.3), (23.0, 22.8)])  # Small and Big only, numbered 1 and 2
    result = compare_recipes([_write(tmp_path, 'three', three), _write(tmp_path, 'ends', ends)],
                             str(tmp_path / 'r.md'))
    rows = result['rows']
    assert [(r['rung'], r['label']) for r in rows] == [(0, 'input (blurred)'), (1, 'Small'), (3, 'Big')]
    assert rows[2]['diffs'][0]['diff_db'] == pytest.approx(0.9) and rows[2]['diffs'][0]['beyond_spread']
    # Big - Small: three 22.0 - 21.0 = +1.0; ends 22.9 - 21.4 = +1.5, each beyond 0.2 + 0.1
    assert [g['gain_db'] for g in top_over_bottom(rows)] == pytest.approx([1.0, 1.5])
    assert 'Rungs not in every ladder, left out: Middle.' in result['markdown']
    assert cv2.imread(result['paths']['figure']).shape[:2] == (2 * 260, 900)  # the two shared rungs


def test_ladders_sharing_no_rung_are_refused():
    other = _record('other', [21.0, 22.0], [(21.1, 20.9), (22.2, 21.8)])
    for row in other['rows'][1:]:
        row['label'] = 'Huge ' + row['label']
    with pytest.raises(UserError, match="the ladders share no rung .plain: Small, Big; other: Huge Small, Huge Big"):
        recipe_rows([('plain', A), ('other', other)])


@pytest.mark.parametrize('case, expected', [
    ('missing', 'no such file'),
    ('not-json', 'not a ladder.json'),
    ('no-rows', "expected 'rows'"),
    ('input-only', 'expected one input row, rung 0, and at least one trained rung'),
    ('one-file', 'at least two ladder.json'),
    ('names', '--names: 1 name(s) for 2 file(s)'),
    ('suffix', 'expected a .md file'),
])
def test_bad_input_ends_in_one_line_and_writes_nothing(case, expected, tmp_path, capsys):
    good = _write(tmp_path, 'a', A)
    out = str(tmp_path / 'out' / 'r.md')
    args = {
        'missing': [good, str(tmp_path / 'nope.json'), '--out', out],
        'not-json': [good, str(tmp_path / 'a.md'), '--out', out],
        'no-rows': [good, _write(tmp_path, 'bare', dict(budget=dict(name='x'))), '--out', out],
        'input-only': [good, _write(tmp_path, 'input', dict(A, rows=A['rows'][:1])), '--out', out],
        'one-file': [good, '--out', out],
        'names': [good, good, '--names', 'x', '--out', out],
        'suffix': [good, good, '--out', str(tmp_path / 'out' / 'r.txt')],
    }[case]
    (tmp_path / 'a.md').write_text('| not | json |')
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('error: ') and expected in err and '\n' not in err
    assert not (tmp_path / 'out').exists()
