"""Leaderboard: test sets, model specs, rows, outputs, resuming, bad input (basicsr_nafnet.evaluation)."""
import csv
import json
import os
import sys

import cv2
import numpy as np
import pytest
import torch
from basicsr.archs import build_network
from basicsr.metrics import calculate_psnr

from basicsr_nafnet.evaluation import TestSetError, open_testset, run_leaderboard
from basicsr_nafnet.inference import ModelSpecError, parse_model_spec
from basicsr_nafnet.evaluation.runner import evaluate_variant, to_uint8
from basicsr_nafnet.engine.checkpoint import CheckpointError
from basicsr_nafnet.metrics import calculate_ssim_3d

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'scripts'))
import leaderboard as leaderboard_cli  # noqa: E402  (scripts/leaderboard.py)
from tiny_models import TINY_ARGS, TINY_SPEC, tiny_checkpoint  # noqa: E402
from tiny_sets import KEYS, make_pairs, write_folder_set  # noqa: E402


def write_lmdb_set(root, pairs):
    import lmdb
    for name, index in (('input.lmdb', 0), ('target.lmdb', 1)):
        path = os.path.join(root, name)
        os.makedirs(path)
        env = lmdb.open(path, map_size=1 << 24)
        meta = []
        with env.begin(write=True) as txn:
            for key, pair in zip(KEYS, pairs):
                img = cv2.cvtColor(pair[index], cv2.COLOR_RGB2BGR)
                txn.put(key.encode(), cv2.imencode('.png', img)[1].tobytes())
                meta.append(f'{key}.png ({img.shape[0]},{img.shape[1]},3) 1\n')
        env.close()
        with open(os.path.join(path, 'meta_info.txt'), 'w') as f:
            f.writelines(meta)
    return str(root)


@pytest.fixture(scope='module')
def board(tmp_path_factory):
    """One full leaderboard run (every row kind) shared by the tests that inspect its outputs."""
    tmp = tmp_path_factory.mktemp('board')
    pairs = make_pairs()
    data = write_folder_set(tmp / 'set', pairs)
    net = tiny_checkpoint(tmp / 'tiny.pth')
    result = run_leaderboard(data, [f'{TINY_SPEC}@{tmp / "tiny.pth"}'],
                             tlc=True,
                             tlc_train_size=16,
                             tile=24,
                             overlap=8,
                             x8=True,
                             ssim_2d=True,
                             published=True,
                             out_dir=str(tmp / 'out'))
    return dict(result=result, pairs=pairs, net=net, tmp=tmp, data=data)


def test_identity_row_is_blur_vs_sharp(board):
    row = board['result']['rows'][0]
    assert (row['name'], row['variant']) == ('input', 'identity')
    pairs = board['pairs']
    assert row['psnr'] == pytest.approx(np.mean([calculate_psnr(b, s, 0) for b, s in pairs]), abs=1e-6)
    assert row['ssim'] == pytest.approx(np.mean([calculate_ssim_3d(b, s, 0) for b, s in pairs]), abs=1e-12)
    assert row['images'] == 3


def test_official_checkpoint_row_matches_direct_evaluation(board):
    plain = next(r for r in board['result']['rows'] if r['variant'] == 'plain')
    net = board['net']
    psnrs = []
    with torch.inference_mode():
        for blur, sharp in board['pairs']:
            out = net(torch.from_numpy(blur).permute(2, 0, 1)[None].float() / 255)
            psnrs.append(calculate_psnr(to_uint8(out), sharp, 0))
    assert plain['psnr'] == pytest.approx(np.mean(psnrs), abs=1e-6)
    assert plain['params'] == sum(p.numel() for p in net.parameters())
    assert plain['macs'] > 0 and plain['runtime_s'] > 0


def test_every_requested_row_and_outputs(board):
    result, out = board['result'], board['tmp'] / 'out'
    variants = [(r['name'].split(' ')[0], r['variant']) for r in result['rows']]
    assert variants[:5] == [('input', 'identity'), ('NAFNet-tiny', 'plain'), ('NAFNet-tiny', 'TLC'),
                            ('NAFNet-tiny', 'tile24'), ('NAFNet-tiny', 'x8')]
    published = [r for r in result['rows'] if r['variant'] == 'published']
    assert len(published) >= 5 and all(r['note'].startswith('published, not measured here') and r['source']
                                       for r in published)
    for r in published:  # each row states its one source, in the table too
        assert f"| {r['source']} ({r['note']}) |" in result['markdown']

    table = result['markdown']
    for name, variant in variants:
        assert f'| {variant} |' in table
    assert 'SSIM (2-D)' in table and 'not counted' in table

    rows = json.loads((out / 'leaderboard.json').read_text())
    assert isinstance(rows, list) and len(rows) == len(result['rows'])
    for row in rows:
        assert {'name', 'psnr', 'ssim', 'params', 'macs', 'runtime_s', 'device'} <= set(row)
    with open(out / 'leaderboard.csv') as f:
        assert len(list(csv.DictReader(f))) == len(rows)
    with open(out / 'per_image.csv') as f:
        per_image = list(csv.DictReader(f))
    assert len(per_image) == 5 * 3  # measured rows x images
    assert {p['key'] for p in per_image} == set(KEYS) and 'ssim_2d' in per_image[0]
    x8 = next(r for r in rows if r['variant'] == 'x8')
    assert x8['macs'] == 8 * rows[1]['macs']


def test_published_rows_and_their_sources():
    from basicsr_nafnet.evaluation.published import published_rows
    rows = {r['name']: r for r in published_rows()}
    expected = {  # (PSNR, SSIM, a word of the source)
        'NAFNet-width32 (published)': (32.8705, 0.9606, 'megvii-research/NAFNet README'),
        'NAFNet-width64 (published)': (33.7103, 0.9668, 'megvii-research/NAFNet README'),
        'NAFNet-width64, paper (published)': (33.69, 0.967, 'paper'),
        'MIMO-UNet+ (published)': (32.45, 0.957, 'MIMO-UNet README'),
        'MAXIM-3S (published)': (32.86, 0.961, 'maxim README'),
        'Stripformer (published)': (33.08, 0.962, 'Stripformer'),
    }
    for name, (psnr, ssim, source) in expected.items():
        assert (rows[name]['psnr'], rows[name]['ssim']) == (psnr, ssim) and source in rows[name]['source'], name
    assert rows['NAFNet-width64 (published)']['note'] == 'published, not measured here'
    assert 'NOT CONFIRMED' in rows['UFPNet (published)']['note']  # 34.06: no source reachable here states it
    assert [r['psnr'] for r in published_rows()] == sorted(r['psnr'] for r in published_rows())


def test_plain_global_pooling_on_large_frames_warns(tmp_path):
    """Frames of 52x40 against 16x16 training crops: NAFNet (global pooling) warns, its TLC variant and a
    network without global pooling do not; frames within the crops do not."""
    data = write_folder_set(tmp_path / 'set', make_pairs(n=1))
    tiny_checkpoint(tmp_path / 'tiny.pth')
    local = TINY_SPEC.replace('NAFNet', 'NAFNetLocal', 1) + ',train_size=[1,3,16,16]'
    specs = [f'{TINY_SPEC}@{tmp_path / "tiny.pth"}', local, 'ResidualCNN:num_feat=4,num_block=1']
    lines = []
    result = run_leaderboard(data, specs, tlc_train_size=16, log=lines.append)
    warnings = [line for line in lines if line.startswith('warning:')]
    assert len(warnings) == 1
    assert 'plain NAFNet scored on 52x40 frames, larger than its 16x16 training crops' in warnings[0]
    assert '33.08 dB instead of 33.71 dB' in warnings[0] and '--tlc' in warnings[0]
    notes = {r['name']: r['note'] or '' for r in result['rows']}
    assert 'published numbers use TLC (--tlc)' in notes['NAFNet-tiny']
    assert not any('TLC' in notes[name] for name in notes if name != 'NAFNet-tiny')
    lines.clear()
    run_leaderboard(data, specs[:1], tlc_train_size=64, log=lines.append)  # frames within the crops
    assert not [line for line in lines if line.startswith('warning:')]
    lines.clear()
    run_leaderboard(data, specs[:1], tlc=True, tlc_train_size=16, log=lines.append)  # the TLC row is asked for
    assert not [line for line in lines if line.startswith('warning:')]


def test_tiled_row_close_to_whole_image(board):
    rows = {r['variant']: r for r in board['result']['rows']}
    assert abs(rows['tile24']['psnr'] - rows['plain']['psnr']) < 0.05


def test_lmdb_and_layout_test_sets_give_the_same_pairs(tmp_path):
    pairs = make_pairs()
    folder = open_testset(write_folder_set(tmp_path / 'folder', pairs))
    lmdb_set = open_testset(write_lmdb_set(tmp_path / 'lmdb', pairs))
    layout_root = tmp_path / 'nafnet_layout'
    write_folder_set(layout_root / 'test', pairs)  # NAFNet layout: test/{input,target}
    layout_set = open_testset(str(layout_root))
    assert folder.keys == lmdb_set.keys == layout_set.keys == list(KEYS)
    assert lmdb_set.layout == 'LMDB' and layout_set.layout == 'NAFNet'
    for key, (blur, sharp) in zip(KEYS, pairs):
        for ts in (folder, lmdb_set, layout_set):
            got_blur, got_sharp = ts.read(key)
            assert np.array_equal(got_blur, blur) and np.array_equal(got_sharp, sharp)


def test_resumes_from_cache_and_ignores_a_cut_line(tmp_path):
    testset = open_testset(write_folder_set(tmp_path / 'set', make_pairs()))
    cache = tmp_path / 'cache.jsonl'
    # a finished record (with a marker value a real run cannot produce) and a line cut by a crash
    cache.write_text(json.dumps(dict(key='000', psnr=123.0, ssim=0.5, runtime_s=1.0)) + '\n{"key": "001", "ps')
    calls = []

    def forward(x):
        calls.append(1)
        return x

    records = evaluate_variant(forward, testset, torch.device('cpu'), str(cache))
    assert len(calls) == 2 and records[0]['psnr'] == 123.0
    assert records[1]['psnr'] == pytest.approx(calculate_psnr(*testset.read('001'), 0))
    again = evaluate_variant(forward, testset, torch.device('cpu'), str(cache))
    assert len(calls) == 2 and [r['key'] for r in again] == list(KEYS)


def test_no_model_gives_input_row_only(tmp_path, capsys):
    data = write_folder_set(tmp_path / 'set', make_pairs())
    assert leaderboard_cli.main(['--data', data]) == 0
    table = capsys.readouterr().out
    assert '| input | identity |' in table
    assert len([line for line in table.splitlines() if line.startswith('| ')]) == 2  # header + one row


def test_compile_option_compiles_each_network(tmp_path, monkeypatch):
    compiled = []
    monkeypatch.setattr(torch, 'compile', lambda module, **kw: compiled.append(module) or module)
    tmp = tmp_path
    data = write_folder_set(tmp / 'set', make_pairs())
    tiny_checkpoint(tmp / 'tiny.pth')
    spec = f'{TINY_SPEC}@{tmp / "tiny.pth"}'
    plain = run_leaderboard(data, [spec], out_dir=str(tmp / 'out'), log=lambda msg: None)
    assert compiled == []
    result = run_leaderboard(data, [spec], x8=True, compile=True, out_dir=str(tmp / 'out'), log=lambda msg: None)
    assert len(compiled) == 2  # plain and x8 rows, not answered from the uncompiled run's cache
    assert result['rows'][1]['psnr'] == pytest.approx(plain['rows'][1]['psnr'], abs=1e-6)


def test_model_spec_forms(tmp_path):
    ckpt = tmp_path / 'c.pth'
    tiny_checkpoint(ckpt)
    spec = parse_model_spec(f'{TINY_SPEC}@{ckpt}')
    assert spec.network == dict(type='NAFNet', **TINY_ARGS) and spec.checkpoint == str(ckpt)
    opt = tmp_path / 'opt.yml'
    opt.write_text(f'name: mine\nnetwork_g:\n  type: NAFNet\n  width: 8\n  enc_blk_nums: [1, 1]\n'
                   f'  middle_blk_num: 1\n  dec_blk_nums: [1, 1]\npath:\n  pretrain_network_g: {ckpt}\n'
                   f'  param_key_g: params\n')
    spec = parse_model_spec(str(opt))
    assert (spec.name, spec.key, spec.checkpoint) == ('mine', 'params', str(ckpt))
    with pytest.raises(ModelSpecError, match="'NoSuchNet' is neither"):
        parse_model_spec('NoSuchNet@x.pth')
    with pytest.raises(ModelSpecError, match='not name=value'):
        parse_model_spec('NAFNet:width')
    with pytest.raises(ModelSpecError, match='checkpoint not found'):
        parse_model_spec(f'NAFNet@{tmp_path / "absent.pth"}')


def test_unsafe_option_file_is_refused(tmp_path):
    opt = tmp_path / 'evil.yml'
    opt.write_text("network_g: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ValueError, match='refused to build a Python object'):
        parse_model_spec(str(opt))


def test_bad_test_sets(tmp_path):
    pairs = make_pairs()
    root = write_folder_set(tmp_path / 'unpaired', pairs)
    os.remove(os.path.join(root, 'target', '001.png'))
    with pytest.raises(TestSetError, match=r'1 image\(s\) without a partner:\n  input/001 \(no sharp image\)'):
        open_testset(root)

    root = write_folder_set(tmp_path / 'sizes', pairs)
    cv2.imwrite(os.path.join(root, 'target', '002.png'), np.zeros((30, 30, 3), np.uint8))
    with pytest.raises(TestSetError, match='pair 002: the blurred image is 52x40 but the sharp one is 30x30'):
        open_testset(root).read('002')

    root = write_folder_set(tmp_path / 'broken', pairs)
    with open(os.path.join(root, 'input', '000.png'), 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n truncated')
    with pytest.raises(TestSetError, match=r'input/000.png: cannot decode the image'):
        open_testset(root).read('000')

    with pytest.raises(TestSetError, match='no such file or folder'):
        open_testset(str(tmp_path / 'absent'))


def test_cli_reports_bad_checkpoints_without_traceback(tmp_path, capsys):
    data = write_folder_set(tmp_path / 'set', make_pairs())
    wrong = tmp_path / 'wide.pth'
    torch.save(
        {
            'params':
            build_network(
                dict(type='NAFNet', width=16, enc_blk_nums=[1, 1, 1], middle_blk_num=1, dec_blk_nums=[1, 1, 1
                                                                                                      ])).state_dict()
        }, wrong)
    meta = tmp_path / 'meta.pth'
    torch.save({'iter': 3, 'optimizers': []}, meta)
    cases = [(wrong, 'unexpected keys: '), (meta, 'is not a state dict')]
    for ckpt, expected in cases:
        assert leaderboard_cli.main(['--data', data, '--model', f'{TINY_SPEC}@{ckpt}']) == 2
        err = capsys.readouterr().err
        assert err.startswith('error: checkpoint ') and str(ckpt) in err and expected in err and 'Traceback' not in err
    with pytest.raises(CheckpointError, match='shape mismatches'):
        run_leaderboard(data, [f'{TINY_SPEC}@{wrong}'])


def test_training_recipe_uses_its_latest_checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    opt = tmp_path / 'recipe.yml'
    opt.write_text('name: mine\nnetwork_g: {type: NAFNet, width: 8}\npath: {pretrain_network_g: ~}\n')
    with pytest.raises(ModelSpecError, match='no experiments/mine/models/net_g_latest.pth'):
        parse_model_spec(str(opt))
    os.makedirs('experiments/mine/models')
    torch.save({'params': {}}, 'experiments/mine/models/net_g_latest.pth')
    assert parse_model_spec(str(opt)).checkpoint == os.path.join('experiments', 'mine', 'models', 'net_g_latest.pth')


def test_an_option_file_or_name_with_other_weights(tmp_path, monkeypatch):
    # what the demo prints, NAFNet-demo@experiments/.../net_g_500.pth: the recipe's network, those weights
    monkeypatch.chdir(tmp_path)
    os.makedirs('experiments/mine/models')
    torch.save({'params': {}}, 'experiments/mine/models/net_g_500.pth')
    opt = tmp_path / 'recipe.yml'
    opt.write_text('name: mine\nnetwork_g: {type: NAFNet, width: 8}\npath: {pretrain_network_g: other.pth, '
                   'param_key_g: params_ema}\n')
    spec = parse_model_spec(f'{opt}@experiments/mine/models/net_g_500.pth')
    assert (spec.name, spec.network, spec.checkpoint, spec.key) == (
        'mine@500', dict(type='NAFNet', width=8), 'experiments/mine/models/net_g_500.pth', 'params_ema')
    spec = parse_model_spec('NAFNet-demo@experiments/mine/models/net_g_500.pth')
    assert spec.network['type'] == 'NAFNet' and spec.network['width'] == 16 and spec.name == 'mine@500'
    with pytest.raises(ModelSpecError, match="'NAFNet-demo@absent.pth': checkpoint not found: absent.pth"):
        parse_model_spec('NAFNet-demo@absent.pth')
    with pytest.raises(ModelSpecError, match='option file not found: nope.yml'):
        parse_model_spec('nope.yml@experiments/mine/models/net_g_500.pth')


def test_fresh_clears_only_its_own_cache_files(tmp_path):
    data = write_folder_set(tmp_path / 'set', make_pairs())
    out = tmp_path / 'out'
    run_leaderboard(data, out_dir=str(out), log=lambda msg: None)
    cached = sorted(os.listdir(out / 'cache'))
    assert cached and all(len(name.split('.')[0]) == 12 for name in cached)
    (out / 'cache' / 'notes.txt').write_text('the user put this here')
    run_leaderboard(data, out_dir=str(out), resume=False, log=lambda msg: None)
    assert (out / 'cache' / 'notes.txt').read_text() == 'the user put this here'
    assert sorted(os.listdir(out / 'cache')) == sorted(cached + ['notes.txt'])


def test_every_row_names_its_dataset_and_published_rows_stand_apart(board):
    result = board['result']
    measured = [r for r in result['rows'] if r['variant'] != 'published']
    published = [r for r in result['rows'] if r['variant'] == 'published']
    label = f"set ({len(board['pairs'])} pairs, {measured[0]['dataset'].split(', ')[1]}"
    assert all(r['dataset'] == measured[0]['dataset'] for r in measured) and measured[0]['dataset'].startswith(label)
    assert {r['dataset'] for r in published} == {'GoPro test (1111 pairs, 1280x720)'}
    table = result['markdown']
    heading = ('Published on GoPro test (1111 pairs, 1280x720), not measured here, so not comparable with the rows '
               'above:')
    assert heading in table and table.index(heading) > max(table.index(f"| {r['name']} |") for r in measured[1:2])
    for r in published:  # every published row below the heading
        assert table.index(f"| {r['name']} |") > table.index(heading)
    assert f"Measured here on {measured[0]['dataset']}:" in table
    rows = json.loads((board['tmp'] / 'out' / 'leaderboard.json').read_text())
    assert all(r['dataset'] for r in rows)


def test_a_split_folder_is_named_with_its_parent(tmp_path):
    from basicsr_nafnet.evaluation.leaderboard import testset_label
    from basicsr_nafnet.evaluation.testset import open_testset

    data = write_folder_set(tmp_path / 'my_blur_set' / 'test', make_pairs())
    assert testset_label(open_testset(data)).startswith('my_blur_set/test (3 pairs, ')


def test_one_thread_is_singular():
    from basicsr_nafnet.evaluation.leaderboard import _device_name

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert _device_name(torch.device('cpu')) == 'cpu (1 thread)'
    finally:
        torch.set_num_threads(before)
