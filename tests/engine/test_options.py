"""Every option file under options/ parses safely and builds its network; official NAFNet test files run."""
import glob
import os
import sys

import pytest
import torch
import yaml
from basicsr.archs import build_network
from training_utils import make_paired_folders, tiny_options, write_options

from basicsr_nafnet.engine import pipeline
from basicsr_nafnet.engine.options import load_options, normalize_options

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPTION_FILES = sorted(glob.glob(os.path.join(ROOT, 'options', '**', '*.yml'), recursive=True))


def test_the_documented_option_files_exist():
    names = {os.path.relpath(p, ROOT) for p in OPTION_FILES}
    for required in ['options/NAFNet-GoPro.yml', 'options/UNet-GoPro.yml', 'options/ResidualCNN-GoPro.yml']:
        assert required in names
    for model in ['NAFNet-width32', 'NAFNet-width64', 'Baseline-width32', 'Baseline-width64', 'UNet', 'ResidualCNN']:
        assert f'options/train/GoPro/{model}.yml' in names and f'options/test/GoPro/{model}.yml' in names


@pytest.mark.parametrize('path', OPTION_FILES, ids=lambda p: os.path.relpath(p, ROOT))
def test_option_file_builds_its_network(path):
    with open(path) as f:
        first_line = f.readline()
    assert first_line.startswith('#'), 'each option file opens with a comment saying how to run it'
    opt = normalize_options(load_options(path), source=path)
    with torch.device('meta'):  # structure only: no memory, no initialisation
        net = build_network(opt['network_g'])
    assert sum(p.numel() for p in net.parameters()) > 0
    if 'train' in opt:
        assert opt['train']['pixel_opt']['type'] == 'PSNRLoss'


def test_headline_nafnet_file_is_the_official_width64_recipe():
    opt = load_options(os.path.join(ROOT, 'options', 'NAFNet-GoPro.yml'))
    assert opt['network_g'] == {'type': 'NAFNetLocal', 'width': 64, 'enc_blk_nums': [1, 1, 1, 28], 'middle_blk_num': 1,
                                'dec_blk_nums': [1, 1, 1, 1]}
    assert opt['train']['optim_g'] == {'type': 'AdamW', 'lr': 1e-3, 'weight_decay': 1e-3, 'betas': [0.9, 0.9]}
    assert opt['train']['scheduler'] == {'type': 'TrueCosineAnnealingLR', 'T_max': 400000, 'eta_min': 1e-7}
    assert opt['datasets']['train']['gt_size'] == 256 and opt['datasets']['train']['batch_size_per_gpu'] == 8


# An official NAFNet GoPro test file (its keys and values), with only the data and checkpoint paths changed.
OFFICIAL_TEST_FILE = """
name: NAFNet-GoPro-width32-test
model_type: ImageRestorationModel
scale: 1
num_gpu: 1 # set num_gpu: 0 for cpu mode
manual_seed: 10
datasets:
  test:
    name: gopro-test
    type: PairedImageDataset
    dataroot_gt: {data}/val/sharp
    dataroot_lq: {data}/val/blur
    io_backend:
      type: disk
network_g:
  type: NAFNetLocal
  width: 8
  enc_blk_nums: [1, 1]
  middle_blk_num: 1
  dec_blk_nums: [1, 1]
path:
  pretrain_network_g: {ckpt}
  strict_load_g: true
  resume_state: ~
val:
  save_img: false
  grids: false
  metrics:
    psnr: # metric name, can be arbitrary
      type: calculate_psnr
      crop_border: 0
      test_y_channel: false
    ssim:
      type: calculate_ssim
      crop_border: 0
      test_y_channel: false
dist_params:
  backend: nccl
  port: 29500
"""


def test_official_test_file_runs_unchanged(tmp_path, monkeypatch):
    data = make_paired_folders(str(tmp_path / 'data'), n_train=1, n_val=2)
    net = build_network({'type': 'NAFNet', 'width': 8, 'enc_blk_nums': [1, 1], 'middle_blk_num': 1,
                         'dec_blk_nums': [1, 1]})
    torch.save({'params': net.state_dict()}, tmp_path / 'NAFNet-GoPro-width32.pth')
    opt_path = tmp_path / 'NAFNet-width32.yml'
    opt_path.write_text(OFFICIAL_TEST_FILE.format(data=data, ckpt=tmp_path / 'NAFNet-GoPro-width32.pth'))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, 'argv', ['test.py', '-opt', str(opt_path)])
    with pytest.warns(UserWarning, match='calculate_ssim_3d'):
        pipeline.test()
    logs = glob.glob(str(tmp_path / 'results' / 'NAFNet-GoPro-width32-test' / 'test_*.log'))
    assert len(logs) == 1
    text = open(logs[0]).read()
    assert '# psnr:' in text and '# ssim:' in text


def test_yaml_dump_of_tiny_options_round_trips(tmp_path):
    opt = tiny_options('/data')
    assert yaml.safe_load(open(write_options(opt, tmp_path / 'o.yml'))) == opt


@pytest.mark.parametrize('path', OPTION_FILES, ids=lambda p: os.path.relpath(p, ROOT))
def test_option_file_values_pass_the_checks(path):
    from basicsr_nafnet.engine.option_check import validate_options

    opt = normalize_options(load_options(path), source=path)
    opt['world_size'] = 1
    # the values only: the data and checkpoints these files point at are not part of the checkout
    validate_options(opt, is_train='/test/' not in path, source=path, files=False)


def test_exponent_numbers_read_as_numbers(tmp_path):
    path = tmp_path / 'opt.yml'
    path.write_text('lr: 1e-3\nT_max: 4E5\neta: 1.0e-7\nname: run1e3\nversion: 1e\n')
    opt = load_options(str(path))
    assert opt == {'lr': 1e-3, 'T_max': 4e5, 'eta': 1e-7, 'name': 'run1e3', 'version': '1e'}
    assert isinstance(opt['lr'], float)


LADDER_FILES = sorted(glob.glob(os.path.join(ROOT, 'options', 'demo', 'ladder', '*.yml')))


def test_ladder_rungs_share_one_recipe_and_similar_macs():
    from basicsr_nafnet import demo
    from basicsr_nafnet.engine.options import project_option_file
    from basicsr_nafnet.evaluation.complexity import count_macs

    assert [project_option_file(rung[0]) for rung in demo.LADDER] == LADDER_FILES  # the demo trains these, in order
    opts = [load_options(path) for path in LADDER_FILES]
    recipe = [{k: v for k, v in opt.items() if k not in ('name', 'network_g')} for opt in opts]
    assert all(r == recipe[0] for r in recipe[1:])  # data, crops, batch, iterations, optimizer, validation
    types = [opt['network_g']['type'] for opt in opts]
    assert types == ['ResidualCNN', 'DeblurUNet', 'DeblurUNet', 'Baseline', 'NAFNet']
    unet_bn, unet_ln = opts[1]['network_g'], opts[2]['network_g']
    assert (unet_bn['norm'], unet_ln['norm']) == ('batch', 'layer')  # the one change between rungs 2 and 3
    assert {k: v for k, v in unet_bn.items() if k != 'norm'} == {k: v for k, v in unet_ln.items() if k != 'norm'}
    # sizes matched by MACs: within 10 % of NAFNet's (1.307 G at 256x256; counted at 64x64, a sixteenth)
    macs = [count_macs(build_network(dict(opt['network_g'])), (1, 3, 64, 64)) for opt in opts]
    assert macs[-1] * 16 == pytest.approx(1.307e9, rel=3e-3)
    assert all(abs(m / macs[-1] - 1) < 0.1 for m in macs), [m * 16 / 1e9 for m in macs]


def test_single_gpu_recipe_states_its_scaling_rule():
    official = load_options(os.path.join(ROOT, 'options', 'train', 'GoPro', 'NAFNet-width32.yml'))
    path = os.path.join(ROOT, 'options', 'train', 'GoPro', 'NAFNet-width32-1gpu.yml')
    one = load_options(path)
    header = ''.join(line for line in open(path) if line.startswith('#'))
    assert 'NOT TRAINED HERE' in header and 'Scaling rule' in header
    assert one['network_g'] == official['network_g']
    batch, official_batch = one['datasets']['train']['batch_size_per_gpu'], 8 * official['datasets']['train'][
        'batch_size_per_gpu']
    assert (batch, official_batch) == (4, 32)
    # the same crops seen: iterations x batch equal, the cosine over the whole run, the learning rate kept
    assert one['train']['total_iter'] * batch == official['train']['total_iter'] * official_batch
    assert one['train']['scheduler']['T_max'] == one['train']['total_iter']
    assert one['train']['optim_g'] == official['train']['optim_g']


def test_aliases_that_refer_to_themselves_or_explode_are_refused(tmp_path):
    from basicsr_nafnet.engine.options import MAX_EXPANDED_VALUES, OptionsError

    loop = tmp_path / 'loop.yml'
    loop.write_text('name: x\nloop: &a [1, *a]\n')
    with pytest.raises(OptionsError, match='loop.yml .line 2.: an alias refers to the value that holds it'):
        load_options(str(loop))
    bomb = ['a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]']
    bomb += [f'{c}: &{c} [{", ".join(["*" + p] * 10)}]' for p, c in zip('abcd', 'bcde')]
    (tmp_path / 'bomb.yml').write_text('\n'.join(bomb) + '\n')  # 10^5 ones and the lists holding them
    with pytest.raises(OptionsError, match=f'more than {MAX_EXPANDED_VALUES} values'):
        load_options(str(tmp_path / 'bomb.yml'))
    shared = ['base: &base {lr: 1.0e-3}', 'one: *base', 'two: *base']  # an alias used as intended still loads
    (tmp_path / 'shared.yml').write_text('\n'.join(shared) + '\n')
    assert load_options(str(tmp_path / 'shared.yml'))['two'] == {'lr': 1e-3}
