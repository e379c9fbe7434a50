"""Comparison figures and training curves (basicsr_nafnet.visualize)."""
import math
import os

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from basicsr_nafnet.evaluation import compare_models, pick_keys, plot_curves, read_experiment, read_train_log
from basicsr_nafnet.visualize import comparison_figure, most_different_region
from basicsr_nafnet.visualize.figures import GAP
from basicsr_nafnet.visualize.plots import (curve_panels, draw_panels, metric_panel, save_png, smooth,
                                            smoothing_weight, tick_labels)

PREFIX = '[NAFNe..][epoch:  {e}, iter: {it:>7}, lr:({lr},)] [eta: 0:10:00, time (data): 0.100 (0.010)]'
LOG = """2026-01-01 10:00:00,000 INFO: Start training from epoch: 0, iter: 0
2026-01-01 10:00:10,000 INFO: """ + PREFIX.format(e=0, it='100', lr='1.000e-03') + """ l_pix: -2.1000e+01 
2026-01-01 10:00:20,000 INFO: """ + PREFIX.format(e=0, it='200', lr='9.000e-04') + """ l_pix: -2.3000e+01 
2026-01-01 10:00:25,000 INFO: Validation GoPro
\t # psnr: 27.5000\tBest: 27.5000 @ 200 iter
\t # ssim: 0.8500\tBest: 0.8500 @ 200 iter

2026-01-01 10:00:30,000 INFO: """ + PREFIX.format(e=1, it='1,300', lr='5.000e-04') + """ l_pix: -2.4000e+01 
2026-01-01 10:00:35,000 INFO: Validation GoPro
\t # psnr: 28.2500\tBest: 28.2500 @ 1300 iter
"""


def write_experiment(root, name='NAFNet-demo'):
    folder = os.path.join(root, name)
    os.makedirs(folder)
    with open(os.path.join(folder, f'train_{name}_20260101_100000.log'), 'w') as f:
        f.write(LOG)
    return folder


def test_read_train_log(tmp_path):
    series = read_train_log(os.path.join(write_experiment(tmp_path), 'train_NAFNet-demo_20260101_100000.log'))
    assert series['l_pix'] == ([100, 200, 1300], [-21.0, -23.0, -24.0])
    assert series['lr'] == ([100, 200, 1300], [1e-3, 9e-4, 5e-4])
    assert series['GoPro/psnr'] == ([200, 1300], [27.5, 28.25])
    assert series['GoPro/ssim'] == ([200], [0.85])


def test_tensorboard_events_are_read(tmp_path):
    pytest.importorskip('tensorboard')
    from torch.utils.tensorboard import SummaryWriter
    writer = SummaryWriter(str(tmp_path / 'tb'))
    for step, value in ((10, 1.5), (20, 1.0)):
        writer.add_scalar('losses/l_pix', value, step)
    writer.add_scalar('metrics/GoPro/psnr', 25.0, 20)
    writer.close()
    series = read_experiment(str(tmp_path / 'tb'))
    assert series['l_pix'] == ([10, 20], [1.5, 1.0]) and series['GoPro/psnr'] == ([20], [25.0])


def test_plot_curves_writes_one_panel_per_series(tmp_path):
    a = write_experiment(tmp_path, 'A')
    b = write_experiment(tmp_path, 'B')
    out = tmp_path / 'figs' / 'curves.png'
    path, panels = plot_curves([a, b], str(out), width=640, panel_height=200)
    img = cv2.imread(path)
    assert img.shape == (4 * 200, 640, 3)  # l_pix, GoPro/psnr, GoPro/ssim, lr, stacked
    assert (img < 250).mean() > 0.01  # something was drawn
    assert not [f for f in os.listdir(out.parent) if f.startswith('.')]  # no temporary file left
    assert [p['title'] for p in panels] == ['l_pix', 'GoPro/psnr', 'GoPro/ssim', 'learning rate']
    loss = panels[0]['lines']
    # three logged losses are too few to smooth (smoothing_weight(3) == 0): one solid line per run
    assert [(line['label'], line['style']) for line in loss] == [('A', 'line'), ('B', 'line')]
    assert loss[0]['xs'] == [100, 200, 1300] and loss[0]['ys'] == [-21.0, -23.0, -24.0]
    assert loss[0]['color'] != loss[1]['color'] and panels[1]['lines'][0]['color'] == loss[0]['color']
    psnr = panels[1]['lines'][0]
    assert (psnr['xs'], psnr['ys'], psnr['style']) == ([200, 1300], [27.5, 28.25], 'points')
    assert panels[3]['log_y'] and not panels[0]['log_y']
    with pytest.raises(ValueError, match='no train_\\*.log and no tensorboard events'):
        plot_curves([str(tmp_path / 'figs')], str(tmp_path / 'x.png'))


def test_smoothing_is_a_debiased_ema():
    # m1 = 0.5, m2 = 0.5 * 0.5 + 0.5 * 2 = 1.25, m3 = 0.5 * 1.25 + 0.5 * 3 = 2.125; divided by 1 - 0.5**t
    assert smooth([1.0, 2.0, 3.0], 0.5) == pytest.approx([1.0, 1.25 / 0.75, 2.125 / 0.875])
    out = smooth([1.0, float('nan'), 3.0], 0.5)  # the average carries over a non-finite value
    assert out[0] == 1.0 and math.isnan(out[1]) and out[2] == pytest.approx(1.75 / 0.75)
    assert smooth([4.0, 5.0], 0) == [4.0, 5.0]
    # a tenth of the series: 20 logged losses -> 0.5, 2000 -> capped at 0.99, 5 -> no smoothing
    assert (smoothing_weight(20), smoothing_weight(2000), smoothing_weight(5)) == (0.5, 0.99, 0.0)
    lines = curve_panels({'l_pix': {'run': (list(range(20)), [float(i % 2) for i in range(20)])}})[0]['lines']
    assert [(line['label'], line['style']) for line in lines] == [('run (raw)', 'raw'),
                                                                  ('run (smoothed, EMA 0.50)', 'smoothed')]
    assert lines[0]['ys'] == [float(i % 2) for i in range(20)] and lines[1]['ys'] == smooth(lines[0]['ys'], 0.5)
    assert lines[0]['color'] == lines[1]['color']  # raw and smoothed of one run share its colour
    assert max(lines[1]['ys'][10:]) - min(lines[1]['ys'][10:]) < 0.4  # the alternating 0/1 is evened out


def test_tick_labels_have_the_decimals_their_spacing_needs():
    assert tick_labels([0.9775, 0.978, 0.9785]) == ['0.9775', '0.9780', '0.9785']
    assert tick_labels([26.0, 28.0, 30.0]) == ['26', '28', '30']
    assert tick_labels([-0.5, 0.0, 0.5]) == ['-0.5', '0', '0.5']
    assert tick_labels([19.5, 21.0, 22.5]) == ['19.5', '21.0', '22.5']  # a step of 1.5 needs the decimal
    assert tick_labels([0.1 + 0.2, 0.4]) == ['0.3', '0.4']  # float noise of the locator is not a digit
    # drawn: the SSIM axis that read 0.978, 0.978, 0.979, 0.979 with the OpenCV chart
    fig = draw_panels([metric_panel({'A': ([100, 200, 300], [0.9776, 0.9781, 0.9788])}, 'ssim')], 640, 240)
    ax = fig.axes[0]
    ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_position()[1] in ticks]
    assert len(labels) >= 3 and len(set(labels)) == len(labels)
    assert all(abs(float(label) - t) < 1e-9 for label, t in zip(labels, ticks))  # each label is its tick


def test_metric_panel_draws_a_reference_line_across_the_runs(tmp_path):
    panel = metric_panel({'A': ([100, 200], [27.0, 28.0]), 'B': ([100, 300], [26.0, float('nan')])}, 'PSNR',
                         reference=('input', 25.5))
    assert [(line['label'], line['xs'], line['ys']) for line in panel['lines']] == [
        ('A', [100.0, 200.0], [27.0, 28.0]), ('B', [100.0], [26.0]), ('input', [100.0, 200.0], [25.5, 25.5])]
    path = save_png(draw_panels([panel], 500, 300), str(tmp_path / 'p.png'))
    assert cv2.imread(path).shape == (300, 500, 3)


def test_most_different_region_finds_the_disagreement():
    base = np.full((60, 80, 3), 100, np.uint8)
    other = base.copy()
    other[30:40, 50:62] = 200
    y, x = most_different_region([base, other], 16)
    assert 30 - 16 + 10 <= y <= 30 and 50 - 16 + 12 <= x <= 50


def test_comparison_figure_size_labels_and_crop():
    sharp = skdata.astronaut()[::4, ::4][:70, :90].copy()
    blur = cv2.blur(sharp, (9, 1))
    a = cv2.blur(sharp, (3, 1))
    b = a.copy()
    b[10:30, 60:85] = sharp[10:30, 60:85] // 2  # model B breaks this region
    figure, info = comparison_figure(blur, sharp, [('A', a), ('B', b)], crop_size=20)
    n, w, h = 4, 90, 70
    assert figure.shape == (28 + h + GAP + min(w, h), n * w + (n - 1) * GAP, 3)
    y, x, size = info['crop']
    assert size == 20 and 0 <= y <= 30 and 45 <= x <= 70
    assert info['psnr']['A'] > info['psnr']['blur'] and info['psnr']['A'] > info['psnr']['B']
    small, _ = comparison_figure(blur, sharp, [('A', a)], max_panel_width=45)
    assert small.shape == (28 + 35 + GAP + 35, 3 * 45 + 2 * GAP, 3)
    with pytest.raises(ValueError, match='B is'):
        comparison_figure(blur, sharp, [('B', b[:10])])


def test_pick_keys_by_gain_and_loss():
    rows = [dict(name='input', variant='identity', key=k, psnr=p) for k, p in (('a', 20), ('b', 25), ('c', 30))]
    rows += [dict(name='M', variant='plain', key=k, psnr=p) for k, p in (('a', 26), ('b', 24), ('c', 31))]
    assert pick_keys(rows, 'M', count=2) == ['a', 'c']
    assert pick_keys(rows, 'M', count=1, mode='loss') == ['b']
    with pytest.raises(ValueError, match='rows available: M:plain, input:identity'):
        pick_keys(rows, 'N')


def test_compare_models_writes_figures(tmp_path):
    from tiny_models import TINY_SPEC, tiny_checkpoint
    from tiny_sets import make_pairs, write_folder_set
    data = write_folder_set(tmp_path / 'set', make_pairs())
    tiny_checkpoint(tmp_path / 'a.pth', seed=1)
    tiny_checkpoint(tmp_path / 'b.pth', seed=2)
    paths = compare_models(data, [f'{TINY_SPEC}@{tmp_path / "a.pth"}', f'{TINY_SPEC}@{tmp_path / "b.pth"}'],
                           str(tmp_path / 'figs'),
                           keys=['001'])
    assert [os.path.basename(p) for p in paths] == ['001.png']
    img = cv2.imread(paths[0])
    assert img.shape == (28 + 40 + GAP + 40, 4 * 52 + 3 * GAP, 3)
