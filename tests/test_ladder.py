"""The ladder (basicsr_nafnet/ladder.py, evaluation/ladder.py): seeds, the deadline, the common checkpoint, the report.

The end-to-end test is the shortened ladder at toy size: two rungs x two seeds, 5 iterations each, two at a time,
through ``demo.run_ladder`` (what ``bash scripts/demo.sh --ladder`` calls); the GPU script's --dry-run runs the same
path with all five rungs.
"""
import csv
import dataclasses
import inspect
import json
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch

from basicsr_nafnet import demo, ladder
from basicsr_nafnet.errors import UserError
from basicsr_nafnet.evaluation.curves import read_experiment
from basicsr_nafnet.evaluation.ladder import COLLAPSED_BELOW, detail_change, ladder_rows, seed_band, sharpest_crop

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOY = dataclasses.replace(ladder.BUDGETS['tiny'], iters=5, train_pairs=12, test_pairs=4)


def test_shortened_ladder_end_to_end_at_toy_size(tmp_path):
    lines = []
    rungs = (ladder.LADDER[0], ladder.LADDER[-1])
    result = demo.run_ladder(str(tmp_path), iters=5, log=lines.append, ladder=rungs, command_line='toy ladder',
                             budget=TOY)
    rows = result['rows']
    assert [r['label'] for r in rows] == ['input (blurred)', 'ResidualCNN', 'NAFNet (SimpleGate, SCA)']
    assert result['iteration'] == 5 and set(result['status'].values()) == {'finished'}
    assert all(len(r['psnr_seeds']) == 2 for r in rows[1:])
    for r in rows[1:]:
        assert r['psnr'] == pytest.approx(np.mean(r['psnr_seeds']))
        assert r['spread'] == pytest.approx((max(r['psnr_seeds']) - min(r['psnr_seeds'])) / 2)
    assert rows[1]['gain_db'] == pytest.approx(rows[1]['psnr'] - rows[0]['psnr'])  # over the input
    assert rows[2]['gain_db'] == pytest.approx(rows[2]['psnr'] - rows[1]['psnr'])  # over the previous rung
    assert rows[2]['gain_beyond_spread'] == (abs(rows[2]['gain_db']) > rows[1]['spread'] + rows[2]['spread'])
    assert rows[1]['params'] == 16 * 3 * 9 + 16 + 8 * (16 * 16 * 9 + 16) + 3 * 16 * 9 + 3  # 19,443
    assert rows[2]['macs'] > rows[1]['macs'] > 1e9  # both near 1.3 G at 256x256
    assert all(r['train_s'] > 0 and r['inference_ms'] > 0 for r in rows[1:])
    assert all(len(r['detail_seeds']) == 2 and min(r['detail_seeds']) >= 0 for r in rows[1:])

    # seeds: the option file's manual_seed + k, names <name>-<budget>-s<k> (the options as run, from the BasicSR log)
    runs = [tmp_path / 'experiments' / f'ladder-5-NAFNet-tiny-5it-s{k}' for k in (0, 1)]
    for k, run in enumerate(runs):
        logged = next(run.glob('train_*.log')).read_text()
        assert f'  manual_seed: {10 + k}\n' in logged and f'  name: ladder-5-NAFNet-tiny-5it-s{k}\n' in logged

    out = tmp_path / 'results' / 'ladder'  # not docs/: the committed tables stay as they are
    assert not (tmp_path / 'docs').exists()
    markdown = (out / 'ladder.md').read_text()
    assert '| 5 | NAFNet (SimpleGate, SCA) |' in markdown  # its number on the whole ladder, not its place (2)
    assert 'Command: `toy ladder`' in markdown
    assert '5 iterations per run, batch 2 of 64x64 crops' in markdown
    assert 'Compared at iteration 5 of 5' in markdown
    record = json.loads((out / 'ladder.json').read_text())
    assert [r['label'] for r in record['rows']] == [r['label'] for r in rows] and record['compared_iteration'] == 5
    # the curves are each seed's validation PSNR from its log: every iteration here (5 // 10 -> 1)
    for k, run in enumerate(runs):
        xs, ys = read_experiment(str(run))['synthetic-gopro-test/psnr']
        assert record['curves']['NAFNet (SimpleGate, SCA)'][k] == dict(iterations=xs, psnr=ys) and xs == [1, 2, 3, 4, 5]
        assert ys[-1] == pytest.approx(rows[2]['psnr_seeds'][k], abs=0.01)  # the last validation: the table's weights

    figure = cv2.imread(str(out / 'ladder.png'))
    n, side = 4, 128  # blur, two rungs, sharp; 128x128 test images, zoom side 128
    assert figure.shape == (28 + side + 4 + side, n * side + (n - 1) * 4, 3)
    assert set(record['figure']['psnr']) == {'blur', 'ResidualCNN', 'NAFNet (SimpleGate, SCA)'}
    # the figure's image: where NAFNet (mean of its seeds) gains most over ResidualCNN (mean of its seeds)
    with open(tmp_path / 'results' / 'ladder' / 'per_image.csv') as f:
        per_image = list(csv.DictReader(f))
    psnr = {}
    for r in per_image:
        rung = 'top' if 'NAFNet' in r['name'] else 'bottom' if 'ResidualCNN' in r['name'] else None
        if rung:
            psnr.setdefault((rung, r['key']), []).append(float(r['psnr']))
    keys = sorted({k for _, k in psnr})
    gains = {k: np.mean(psnr['top', k]) - np.mean(psnr['bottom', k]) for k in keys}
    assert len(keys) == 4 and record['figure']['key'] == max(keys, key=gains.get)
    curves = cv2.imread(str(out / 'ladder_curves.png'))
    assert curves.shape == (420, 900, 3)
    assert not [f for f in os.listdir(out) if f.startswith('.')]  # no temporary file left

    # the logs archive holds every run's BasicSR log and no weights
    archive = ladder.pack_logs(str(tmp_path), str(tmp_path / 'logs.tar.gz'))
    import tarfile
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert sum(n.endswith('.log') and '/experiments/' in n for n in names) == 4
    assert not [n for n in names if n.endswith(('.pth', '.state', '.mdb'))]


def _fake_run(root, name, iterations, latest_of=None):
    models = root / name / 'models'
    models.mkdir(parents=True)
    for it in iterations:
        (models / f'net_g_{it}.pth').write_bytes(b'')
    if latest_of is not None:
        (models / 'net_g_latest.pth').write_bytes(b'')
        (root / name / 'training_states').mkdir()
        (root / name / 'training_states' / f'{latest_of}.state').write_bytes(b'')
    return str(root / name)


def test_common_iteration_is_the_last_checkpoint_every_run_saved(tmp_path):
    a = _fake_run(tmp_path, 'a', [2, 4, 6])
    b = _fake_run(tmp_path, 'b', [2, 4])  # stopped by the deadline before 6
    c = _fake_run(tmp_path, 'c', [3, 6], latest_of=7)  # finished: its latest weights count as iteration 7
    assert ladder.common_iteration([a, b], 7) == (4, {a: os.path.join(a, 'models', 'net_g_4.pth'),
                                                      b: os.path.join(b, 'models', 'net_g_4.pth')})
    assert ladder.saved_iterations(c, 7)[7].endswith('net_g_latest.pth')
    assert ladder.common_iteration([a, c], 7)[0] == 6
    with pytest.raises(UserError, match='share no checkpoint'):
        ladder.common_iteration([b, c], 7)
    empty = _fake_run(tmp_path, 'empty', [])
    with pytest.raises(UserError, match='no checkpoint saved by empty'):
        ladder.common_iteration([a, empty], 7)


def test_runs_still_going_at_the_deadline_are_stopped(tmp_path):
    sleeper = [sys.executable, '-c', 'import time; time.sleep(60)']
    budget = dataclasses.replace(ladder.BUDGETS['tiny'], concurrent=2, deadline_s=1.0)
    started = time.monotonic()
    status = ladder.train_ladder([('a', sleeper), ('b', sleeper), ('c', sleeper)], str(tmp_path), budget,
                                 log=lambda msg: None, poll_s=0.1)
    assert time.monotonic() - started < 30
    assert status == {'a': 'stopped at the deadline', 'b': 'stopped at the deadline', 'c': 'not started'}
    assert (tmp_path / 'ladder_logs' / 'a.txt').is_file()  # concurrent runs write their output there


def test_a_failed_run_is_reported_with_its_exit_status_and_output(tmp_path):
    budget = dataclasses.replace(ladder.BUDGETS['tiny'], concurrent=2)
    jobs = [('ok', [sys.executable, '-c', 'pass']), ('bad', [sys.executable, '-c', 'raise SystemExit(3)'])]
    with pytest.raises(UserError, match=r'bad \(exit status 3; output: .*bad\.txt\)'):
        ladder.train_ladder(jobs, str(tmp_path), budget, log=lambda msg: None, poll_s=0.05)


def test_run_commands_override_only_budget_seed_and_name():
    opt = dict(name='ladder-5-NAFNet', manual_seed=10)
    (name0, cmd0), (name1, cmd1) = ladder.run_commands('rung.yml', opt, ladder.BUDGETS['gpu'])
    assert (name0, name1) == ('ladder-5-NAFNet-gpu-s0', 'ladder-5-NAFNet-gpu-s1')
    forced = cmd1[cmd1.index('--force_yml') + 1:]
    assert {f.split('=')[0] for f in forced} == {
        'name', 'manual_seed', 'num_gpu', 'train:total_iter', 'train:scheduler:T_max',
        'datasets:train:batch_size_per_gpu', 'datasets:train:gt_size', 'val:val_freq', 'logger:save_checkpoint_freq',
        'logger:print_freq'}
    gpu = ladder.BUDGETS['gpu']
    assert (gpu.iters, gpu.checkpoints) == (4000, 20)  # the GPU budget as run on the H200
    assert 'manual_seed=11' in forced and 'num_gpu=1' in forced and 'val:val_freq=200' in forced
    assert 'logger:save_checkpoint_freq=200' in forced  # checkpoints with every validation, iters / checkpoints


def test_clip_budget_changes_the_optimiser_of_every_rung_alike():
    budget = ladder.BUDGETS['cpu-long-clip']
    long = ladder.BUDGETS['cpu-long']
    assert dataclasses.replace(budget, name='cpu-long', lr=None, grad_clip=None) == long  # only the recipe differs
    (_, cmd), _ = ladder.run_commands('rung.yml', dict(name='r', manual_seed=1), budget)
    forced = cmd[cmd.index('--force_yml') + 1:]
    assert forced[-3:] == ['train:optim_g:lr=0.001', 'train:use_grad_clip=true', 'train:grad_clip_norm=0.01']
    (_, plain), _ = ladder.run_commands('rung.yml', dict(name='r', manual_seed=1), long)
    assert not any('lr=' in f or 'clip' in f for f in plain)


def test_the_demo_ladder_trains_every_rung_with_the_clipped_recipe():
    from basicsr_nafnet import demo
    assert inspect.signature(demo.run_ladder).parameters['budget'].default == 'cpu-clip'
    clip, plain = ladder.BUDGETS['cpu-clip'], ladder.BUDGETS['cpu']
    assert (clip.lr, clip.grad_clip) == (ladder.BUDGETS['cpu-long-clip'].lr, ladder.BUDGETS['cpu-long-clip'].grad_clip)
    # only the recipe differs, and how many runs share the cores
    assert dataclasses.replace(clip, name='cpu', lr=None, grad_clip=None, concurrent=1, threads=None,
                               workers=1) == plain


def test_recipe_text_states_what_the_runs_trained_with():
    train = dict(optim_g=dict(type='AdamW', lr=2e-3), scheduler=dict(eta_min=1e-6), use_grad_clip=False)
    text = ladder.recipe_text(ladder.BUDGETS['cpu-long'], train)
    assert text.startswith('1600 iterations per run, batch 16 of 128x128 crops, AdamW lr 0.002 cosine to 1e-06, '
                           'no gradient clipping, PSNR loss, validation and checkpoint every 200 iterations')
    text = ladder.recipe_text(ladder.BUDGETS['cpu-long-clip'], train)
    assert 'AdamW lr 0.001 cosine to 1e-06, gradient norm clipped at 0.01,' in text
    clipped_file = dict(train, use_grad_clip=True, grad_clip_norm=0.5)
    assert 'lr 0.002 cosine to 1e-06, gradient norm clipped at 0.5,' in ladder.recipe_text(ladder.BUDGETS['cpu'],
                                                                                             clipped_file)


def test_rows_mean_spread_and_gain_beyond_the_spread():
    from basicsr_nafnet.evaluation.ladder import Rung, Run
    board = [dict(name='input', psnr=25.0, ssim=0.8)] + [
        dict(name=f'r{i}', psnr=p, ssim=0.9, params=1, macs=2, runtime_s=0.01)
        for i, p in enumerate([25.5, 25.7, 26.0, 26.6, 26.1, 26.3])]
    rungs = [Rung(label, '-', [Run('x', 'y'), Run('x', 'y')]) for label in ('a', 'b', 'c')]
    rows = ladder_rows(board, rungs, [[60, 60]] * 3)
    assert [round(r['psnr'], 6) for r in rows] == [25.0, 25.6, 26.3, 26.2]
    assert [round(r['spread'], 6) for r in rows] == [0.0, 0.1, 0.3, 0.1]
    # +0.6 over the input (spread 0 + 0.1): beyond; +0.7 vs 0.1 + 0.3: beyond; -0.1 vs 0.3 + 0.1: not
    assert [r['gain_beyond_spread'] for r in rows] == [None, True, True, False]


class _Adds(torch.nn.Module):
    """Adds ``pattern(x)`` to its input: a stand-in network with a known change."""

    def __init__(self, pattern):
        super().__init__()
        self.pattern = pattern

    def forward(self, x):
        return x + self.pattern(x)


class _Pairs:
    keys = ['a', 'b']

    def read(self, key):
        blur = np.random.default_rng(len(key)).integers(0, 256, (8, 6, 3), dtype=np.uint8)
        return blur, blur


def test_detail_change_ignores_a_colour_shift_and_measures_the_rest_in_grey_levels():
    colour = torch.tensor([0.1, -0.2, 0.05]).view(1, 3, 1, 1)
    shifted = detail_change(_Adds(lambda x: colour.expand_as(x)), _Pairs())
    assert shifted == pytest.approx(0, abs=1e-4)  # float32 rounding of x + c - x
    # a +-1.5 grey level checkerboard (mean zero) on top of a colour shift: RMS 1.5
    board = (torch.arange(8).view(8, 1) + torch.arange(6).view(1, 6)) % 2 * 2 - 1
    change = detail_change(_Adds(lambda x: colour + board * 1.5 / 255), _Pairs())
    assert change == pytest.approx(1.5, rel=1e-5) and change > COLLAPSED_BELOW


def test_detail_change_column_and_collapse_note():
    from basicsr_nafnet.evaluation.ladder import Rung, Run, _collapse_note, ladder_markdown
    board = [dict(name='input', psnr=25.0, ssim=0.8)] + [
        dict(name=f'r{i}', psnr=25.5, ssim=0.9, params=1, macs=2, runtime_s=0.01) for i in range(2)]
    rungs = [Rung('a', '-', [Run('/x/run-s0', 'y'), Run('/x/run-s1/', 'y')])]
    rows = ladder_rows(board, rungs, [[60, 60]], [[1.234, 0.02]])
    assert rows[1]['detail_seeds'] == [1.234, 0.02] and rows[0]['detail_seeds'] is None
    assert '| 0.9000 | 1.23, 0.02 |' in ladder_markdown(rows)
    assert _collapse_note(rungs, [[1.234, 0.02]]) == [
        "Collapsed runs (detail change below 0.1 grey level): run-s1 (0.020); the rung's mean includes them."]
    assert _collapse_note(rungs, [[1.234, 0.5]]) == []


def test_seed_band_and_sharpest_crop():
    xs, mean, low, high = seed_band([([1, 2, 3], [1.0, 2.0, 3.0]), ([2, 3], [4.0, 1.0])])
    assert (xs, mean, low, high) == ([2, 3], [3.0, 2.0], [2.0, 1.0], [4.0, 3.0])
    sharp = np.full((64, 80, 3), 128, np.uint8)
    sharp[40:56:2, 50:70] = 255  # stripes: the only edges
    y, x = sharpest_crop(sharp, 16)
    assert 40 - 16 < y <= 40 + 1 and 50 - 16 < x <= 54


def test_gpu_script_refuses_bad_arguments(tmp_path):
    for args in ([], ['--dry-run'], [str(tmp_path), '--fast'], [str(tmp_path), '--full', '--ends'],
                 [str(tmp_path), '--width-scale'], [str(tmp_path), '--width-scale', '2', '--width-scale', '3']):
        done = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'ladder_gpu.sh'), *args], cwd=tmp_path,
                              capture_output=True, text=True)
        assert done.returncode == 2 and done.stderr.startswith('usage: bash scripts/ladder_gpu.sh OUT_DIR')


@pytest.mark.parametrize('args, expected, recorded', [
    ([], ['--budget', 'gpu'], ''),
    (['--ends', '--width-scale', '2'], ['--budget', 'gpu-ends', '--rungs', '1,5', '--width-scale', '2'],
     ' --ends --width-scale 2'),
    (['--width-scale', '0.5', '--full'], ['--budget', 'gpu-full', '--width-scale', '0.5'], ' --full --width-scale 0.5'),
])
def test_gpu_script_hands_its_mode_and_width_to_the_ladder(args, expected, recorded, tmp_path):
    # PYTHON stands in for the interpreter: it records the ladder's arguments instead of training
    stub = tmp_path / 'python'
    stub.write_text(f'#!/bin/sh\nif [ "$1" = "-m" ]; then printf "%s\\n" "$@" > "{tmp_path}/argv.txt"; exit 0; fi\n'
                    f'exec "{sys.executable}" "$@"\n')
    stub.chmod(0o755)
    env = dict(os.environ, PYTHON=str(stub), TMPDIR=str(tmp_path))
    done = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'ladder_gpu.sh'), 'out', *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    argv = (tmp_path / 'argv.txt').read_text().splitlines()
    root = argv[argv.index('--root') + 1]
    assert argv == ['-m', 'basicsr_nafnet.ladder', str(tmp_path / 'out'), *expected, '--root', root,
                    '--command-line', f'bash scripts/ladder_gpu.sh OUT_DIR{recorded}']
    assert root.startswith(str(tmp_path)) and not os.path.exists(root)  # its work folder, removed at the end


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the refusal where torch sees no GPU')
@pytest.mark.parametrize('budget', ['gpu', 'gpu-full', 'gpu-ends'])
def test_gpu_budgets_refuse_without_cuda_before_creating_anything(budget, tmp_path, capsys):
    (tmp_path / 'work').mkdir()  # as scripts/ladder_gpu.sh makes it: the logs archive must not appear in OUT anyway
    assert ladder.main([str(tmp_path / 'out'), '--budget', budget, '--root', str(tmp_path / 'work')]) == 2
    assert capsys.readouterr().err.strip() == f"error: budget '{budget}' needs a CUDA GPU and torch sees none"
    assert os.listdir(tmp_path) == ['work'] and os.listdir(tmp_path / 'work') == []


def test_ends_gpu_budget_is_the_full_schedule_with_the_clip_recipe_and_four_seeds():
    ends, full, clip = (ladder.BUDGETS[n] for n in ('gpu-ends', 'gpu-full', 'cpu-long-clip'))
    assert (ends.iters, ends.deadline_s) == (full.iters, full.deadline_s)
    assert (ends.lr, ends.grad_clip) == (clip.lr, clip.grad_clip)
    assert ends.seeds == 4 and ends.concurrent == 2 * ends.seeds  # two rungs, every run at once


def test_full_gpu_budget_runs_its_schedule_to_the_end():
    full, short = ladder.BUDGETS['gpu-full'], ladder.BUDGETS['gpu']
    assert full.iters < short.iters and full.deadline_s > short.deadline_s  # the cosine ends, the deadline is spare
    (_, cmd), _ = ladder.run_commands('rung.yml', dict(name='r', manual_seed=1), full)
    assert 'train:scheduler:T_max=3000' in cmd and 'train:total_iter=3000' in cmd and 'val:val_freq=200' in cmd


def test_select_rungs_takes_numbers_from_the_bottom_and_states_what_skipped_rungs_changed():
    bottom, top = ladder.select_rungs('5,1')
    assert bottom == ladder.LADDER[0] and top[:2] == ladder.LADDER[4][:2]
    assert top[2] == '; then '.join(change for *_, change in ladder.LADDER[1:])  # every change from rung 1 to 5
    assert ladder.select_rungs(' 2, 3 ,3') == ladder.LADDER[1:3]  # neighbours: the files' own text


@pytest.mark.parametrize('spec, expected', [
    ('0,5', "--rungs: '0' is not a rung; give rung numbers 1-5 separated by commas, e.g. 1,5"),
    ('1,6', "--rungs: '6' is not a rung; give rung numbers 1-5 separated by commas, e.g. 1,5"),
    ('1,NAFNet', "--rungs: 'NAFNet' is not a rung; give rung numbers 1-5 separated by commas, e.g. 1,5"),
    ('1,', "--rungs: '' is not a rung; give rung numbers 1-5 separated by commas, e.g. 1,5"),
    ('5,5', '--rungs: give at least two rungs to compare, e.g. 1,5'),
])
def test_bad_rungs_end_in_one_line_before_anything_is_created(spec, expected, tmp_path, capsys):
    argv = [str(tmp_path / 'out'), '--budget', 'tiny', '--root', str(tmp_path / 'work'), '--rungs', spec]
    assert ladder.main(argv) == 2
    assert capsys.readouterr().err.strip() == f'error: {expected}'
    assert os.listdir(tmp_path) == []


def test_longer_clip_budget_is_the_clip_budget_with_twice_the_iterations():
    longer, clip = ladder.BUDGETS['cpu-3200-clip'], ladder.BUDGETS['cpu-long-clip']
    assert dataclasses.replace(longer, name=clip.name, iters=clip.iters) == clip and longer.iters == 2 * clip.iters


def test_rungs_and_seeds_reach_the_run_and_its_recorded_command(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(ladder, 'run_ladder', lambda root, budget, **kw: seen.update(budget=budget, **kw))
    assert ladder.main([str(tmp_path / 'out'), '--budget', 'cpu-3200-clip', '--root', str(tmp_path / 'w'),
                        '--rungs', '1,5', '--seeds', '3']) == 0
    # the budget keeps its name, so its runs s0 and s1 are reused and s2 is added
    assert seen['budget'] == dataclasses.replace(ladder.BUDGETS['cpu-3200-clip'], seeds=3)
    assert [label for _, label, _ in seen['ladder']] == ['ResidualCNN', 'NAFNet (SimpleGate, SCA)']
    assert seen['command_line'] == 'python -m basicsr_nafnet.ladder --budget cpu-3200-clip --rungs 1,5 --seeds 3'


@pytest.mark.parametrize('seeds', ['1', '0', 'two'])
def test_fewer_than_two_seeds_are_refused_in_one_line(seeds, tmp_path, capsys):
    argv = [str(tmp_path / 'out'), '--budget', 'tiny', '--root', str(tmp_path / 'w'), '--seeds', seeds]
    assert ladder.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert 'argument --seeds' in err and '\n' not in err and os.listdir(tmp_path) == []


def test_varied_budget_is_the_clip_budget_on_the_varied_data_in_its_own_folder():
    varied, clip = ladder.BUDGETS['cpu-varied-clip'], ladder.BUDGETS['cpu-long-clip']
    assert dataclasses.replace(varied, name=clip.name, data='long-blur', train_pairs=600, test_pairs=30) == clip
    settings = ladder.LADDER_DATASETS['varied'][1]
    n = len(settings['train_photos'])
    assert n == 13 and varied.train_pairs == 3 * n * 20 and varied.test_pairs == 2 * 20  # equal shares
    from basicsr_nafnet.engine.options import load_options, project_option_file
    opt = load_options(project_option_file(ladder.LADDER[0][0]))
    (_, cmd), _ = ladder.run_commands('rung.yml', opt, varied)
    forced = dict(f.split('=', 1) for f in cmd[cmd.index('--force_yml') + 1:])
    assert forced['datasets:train:dataroot_gt'] == './datasets/synthetic_gopro_ladder_varied/train/sharp_crops.lmdb'
    assert forced['datasets:val:dataroot_lq'] == './datasets/synthetic_gopro_ladder_varied/test/input.lmdb'
    (_, plain), _ = ladder.run_commands('rung.yml', opt, clip)
    assert not any('dataroot' in f for f in plain)  # the option files' own folder
    roles = ladder.photos_by_role(varied)
    assert [r for _, r in roles] == ['training'] * 13 + ['held-out'] * 2
    roles = dict(ladder.photos_by_role(clip))  # the photographs the pairs drew, not those they might have
    assert roles['coffee.png'] == 'held-out' and roles['chelsea.png'] == 'never seen'
    assert roles['moon.png'] == 'never seen' and roles['rocket.jpg'] == 'training' and len(roles) == 15
    assert 'held-out pairs from coffee.png (30);' in ladder.data_text(clip)
    assert 'held-out pairs from chelsea.png (20) and coffee.png (20);' in ladder.data_text(varied)


def test_varied_data_and_gains_by_photograph_end_to_end(tmp_path, capsys):
    from basicsr_nafnet.data.synthetic import TEST_PHOTOS
    from basicsr_nafnet.evaluation.photo_gains import photo_pairs
    from basicsr.metrics import calculate_psnr

    toy = dataclasses.replace(TOY, name='toy-varied', data='varied', train_pairs=14, test_pairs=2)
    out = tmp_path / 'out'
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(ladder.BUDGETS, 'toy-varied', toy)
        assert ladder.main([str(out), '--budget', 'toy-varied', '--root', str(tmp_path / 'w'), '--rungs', '1,5',
                            '--by-photo', '1']) == 0
    capsys.readouterr()
    assert os.listdir(tmp_path / 'w' / 'datasets') == ['synthetic_gopro_ladder_varied']
    record = json.loads((out / 'photo_gains.json').read_text())
    rows = record['rows']
    # 14 pairs: one sequence, so one training photograph; the others are scored too, as never seen
    assert [r['role'] for r in rows] == ['training', 'held-out'] + ['never seen'] * 13
    assert rows[0]['photo'] == 'astronaut.png' and {r['photo'] for r in rows[2:]} >= {'rocket.jpg', 'moon.png'}
    for r in rows:
        bottom, top = r['gains']
        assert len(bottom['seeds']) == len(top['seeds']) == 2
        assert top['mean'] == pytest.approx(np.mean(top['seeds']))
        assert top['spread'] == pytest.approx((max(top['seeds']) - min(top['seeds'])) / 2)
        assert r['lead'] == pytest.approx(top['mean'] - bottom['mean'])
        assert r['lead_beyond_spread'] == (abs(r['lead']) > top['spread'] + bottom['spread'])
    blur, sharp = photo_pairs(TEST_PHOTOS[0], 1, toy.frame, (10.0, 30.0))[0]
    assert rows[1]['photo'] == TEST_PHOTOS[0]
    assert rows[1]['input_psnr'] == pytest.approx(calculate_psnr(blur, sharp, crop_border=0))
    markdown = (out / 'photo_gains.md').read_text()
    assert '| chelsea.png | held-out |' in markdown and 'over the 13 never seen photographs: mean' in markdown
    assert '--by-photo 1' in record['meta']['command'] and "('varied'), 14 training pairs" in markdown
    assert 'training pairs from 1 photograph, held-out pairs from chelsea.png (2);' in markdown


def test_half_width_budget_scales_every_rung_alike_in_training_and_scoring(tmp_path):
    from basicsr_nafnet.engine.options import load_options, project_option_file

    half, clip = ladder.BUDGETS['cpu-half-clip'], ladder.BUDGETS['cpu-long-clip']
    assert dataclasses.replace(half, name=clip.name, width_scale=1.0) == clip
    widths = {}
    for relative, label, _ in ladder.LADDER:
        opt = load_options(project_option_file(relative))
        (_, cmd), _ = ladder.run_commands('rung.yml', opt, half)
        forced = [f for f in cmd[cmd.index('--force_yml') + 1:] if f.startswith('network_g:')]
        key = 'num_feat' if 'num_feat' in opt['network_g'] else 'width'
        assert forced == [f"network_g:{key}={round(opt['network_g'][key] / 2)}"]  # 16 -> 8, 10 -> 5
        widths[label] = ladder._spec(opt, 'w.pth', half)['network'][key]  # scored as trained
        (_, plain), _ = ladder.run_commands('rung.yml', opt, clip)
        assert not any(f.startswith('network_g:') for f in plain)
    assert widths == {'ResidualCNN': 8, 'UNet (BN, ReLU)': 5, 'UNet (LN, ReLU)': 5, 'Baseline (LN, GELU, CA)': 8,
                      'NAFNet (SimpleGate, SCA)': 8}
    train = dict(optim_g=dict(type='AdamW', lr=2e-3), scheduler=dict(eta_min=1e-6), use_grad_clip=False)
    assert ladder.recipe_text(half, train).endswith("; every rung at 0.5x its option file's width")


@pytest.mark.parametrize('count', ['0', 'all'])
def test_bad_by_photo_counts_are_refused_in_one_line(count, tmp_path, capsys):
    argv = [str(tmp_path / 'out'), '--budget', 'tiny', '--root', str(tmp_path / 'w'), '--by-photo', count]
    assert ladder.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert 'argument --by-photo' in err and '\n' not in err and os.listdir(tmp_path) == []


def test_width_scale_names_its_runs_apart_and_reaches_the_recorded_command(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(ladder, 'run_ladder', lambda root, budget, **kw: seen.update(budget=budget, **kw))
    argv = [str(tmp_path / 'out'), '--budget', 'cpu-long-clip', '--root', str(tmp_path / 'w'), '--rungs', '1,5']
    assert ladder.main(argv + ['--width-scale', '0.25']) == 0
    clip = ladder.BUDGETS['cpu-long-clip']
    assert seen['budget'] == dataclasses.replace(clip, name='cpu-long-clip-w0.25', width_scale=0.25)
    assert seen['command_line'].endswith('--rungs 1,5 --width-scale 0.25')
    # the budget's own width: the same runs as without the flag (cpu-half-clip is width 0.5)
    assert ladder.main([*argv[:2], 'cpu-half-clip', *argv[3:], '--width-scale', '0.5']) == 0
    assert seen['budget'] == ladder.BUDGETS['cpu-half-clip']


@pytest.mark.parametrize('scale', ['0', '-1', 'nan', 'inf', 'half'])
def test_bad_width_scales_are_refused_in_one_line(scale, tmp_path, capsys):
    argv = [str(tmp_path / 'out'), '--budget', 'tiny', '--root', str(tmp_path / 'w'), '--width-scale', scale]
    assert ladder.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert 'argument --width-scale' in err and '\n' not in err and os.listdir(tmp_path) == []


def test_a_width_too_small_for_a_rung_is_refused_before_anything_is_made(tmp_path, capsys):
    # 1e-9 leaves every rung 1 channel wide: the ResidualCNN runs so, the Baseline cannot (its channel attention)
    argv = [str(tmp_path / 'out'), '--budget', 'tiny', '--root', str(tmp_path / 'w'), '--width-scale', '1e-9']
    assert ladder.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('error: --width-scale 1e-09: Baseline (LN, GELU, CA) at that width (width=1) cannot run')
    assert '\n' not in err and os.listdir(tmp_path) == []
