"""Bad input, option faults (issue 24 item 5 and the item 1 remainder): num_gpu, empty paths and values, long
values, losses that would download weights, prefetching, pairs smaller than the crop further into the data.

The check, the world and the catalogue: bad_input_harness.py and conftest.py.
"""
import os

import cv2
import pytest
from bad_input_harness import assert_refused_cleanly, case_ids
from tiny_models import TINY_SPEC

LONG = 'x' * 100_000
PERCEPTUAL = 'train:pixel_opt={type: PerceptualLoss, layer_weights: {conv5_4: 1.0}, perceptual_weight: 1.0}'
MIXED = ['datasets:train:dataroot_gt=mixed/sharp', 'datasets:train:dataroot_lq=mixed/blur']


def _force(*entries):
    return ['-opt', 'ok.yml', '--force_yml', *entries]


CASES = [
    # basicsr_nafnet/train.py
    ('train-num-gpu-negative', 'train', _force('num_gpu=-3'), 2, ['num_gpu', '-3']),
    ('train-num-gpu-text', 'train', _force('num_gpu=x'), 2, ['num_gpu', "'x'"]),
    ('train-num-gpu-fraction', 'train', _force('num_gpu=0.5'), 2, ['num_gpu', '0.5']),
    ('train-num-gpu-huge', 'train', _force('num_gpu=1000000000000000000'), 2, ['num_gpu', 'to 1024']),
    ('train-empty-dataroot', 'train', _force("datasets:train:dataroot_gt=''"), 2,
     ['datasets.train.dataroot_gt', 'an empty path']),
    ('train-empty-resume-state', 'train', _force("path:resume_state=''"), 2, ['path.resume_state', 'an empty path']),
    ('train-empty-option-file-argument', 'train', ['-opt', ''], 2, ['-opt', 'an empty value']),
    ('train-long-value', 'train', _force(f'train:total_iter={LONG}'), 2,
     ['train.total_iter', 'xxxxxxxxxx', '(100002 characters)']),
    ('train-long-name-of-option-file', 'train', ['-opt', LONG + '.yml'], 2,
     ['(100005 characters)', 'File name too long']),
    ('train-loss-would-download-vgg', 'train', _force(PERCEPTUAL), 2,
     ['train.pixel_opt', 'PerceptualLoss', 'vgg19-dcbb9e9d.pth', 'by hand']),
    ('train-prefetch-queue-text', 'train', _force('datasets:train:prefetch_mode=cpu',
                                                  'datasets:train:num_prefetch_queue=x'), 2,
     ['datasets.train.num_prefetch_queue', "'x'"]),
    ('train-persistent-workers-without-workers', 'train', _force('datasets:train:persistent_workers=true'), 2,
     ['datasets.train.persistent_workers', 'num_worker_per_gpu']),
    ('train-prefetch-cuda-on-the-cpu', 'train', _force('datasets:train:prefetch_mode=cuda'), 2,
     ['datasets.train.prefetch_mode', 'GPU']),
    ('train-later-pair-smaller-than-crop', 'train', _force(*MIXED), 2,
     ['datasets.train.gt_size', '1 of 4 pairs', '003.png', '20x20']),
    ('train-pair-sizes-differ', 'train', _force('datasets:train:dataroot_gt=mixed/sharp'), 2,
     ['datasets.train', '1 of 4 pairs', 'not the blurred one']),
    # what the fuzz of the shipped option files found
    ('train-enlarge-ratio-huge', 'train', _force('datasets:train:dataset_enlarge_ratio=1e308'), 2,
     ['datasets.train.dataset_enlarge_ratio', '100000']),
    ('train-loss-weight-null', 'train', _force('train:pixel_opt:loss_weight=null'), 2,
     ['train.pixel_opt.loss_weight', 'null']),
    ('train-grad-clip-norm-null', 'train', _force('train:use_grad_clip=true', 'train:grad_clip_norm=null'), 2,
     ['train.grad_clip_norm', 'null']),
    ('train-block-count-huge', 'train', _force('network_g:middle_blk_num=1000000000000'), 2,
     ['network_g.middle_blk_num', 'at most 4096']),
    ('train-network-without-channels', 'train', _force('network_g={type: ResidualCNN, num_feat: 0, num_block: 2}'),
     2, ['network_g', 'cannot run on a 64x64 input']),
    ('train-network-upscales', 'train', _force('network_g={type: RRDBNet, num_in_ch: 3, num_out_ch: 3, num_feat: 8, '
                                               'num_block: 1, num_grow_ch: 8}'), 2,
     ['network_g', 'RRDBNet turns a 64x64 input into 256x256']),
    # basicsr_nafnet/test.py
    ('test-empty-checkpoint-path', 'test', ['-opt', 'ok_test.yml', '--force_yml', "path:pretrain_network_g=''"], 2,
     ['path.pretrain_network_g', 'an empty path']),
    ('test-num-gpu-negative', 'test', ['-opt', 'ok_test.yml', '--force_yml', 'num_gpu=-1'], 2, ['num_gpu', '-1']),
    # scripts: an empty value used to end as "error: : No such file or directory", naming nothing
    ('deblur-empty-input', 'deblur', ['-i', '', '-o', 'out', '--model', f'{TINY_SPEC}@tiny.pth'], 2,
     ['-i', 'an empty value']),
    ('make-synthetic-empty-output', 'make_synthetic_gopro', ['--output', ''], 2, ['--output', 'an empty value']),
    ('prepare-empty-input', 'prepare_gopro', ['--input', ''], 2, ['--input', 'an empty value']),
]


@pytest.fixture(scope='module')
def mixed_sizes(world):
    """``mixed/``: the world's four training pairs with the last one 20x20 in both folders, smaller than the crop (24)
    (sharp/ only in ``mixed/sharp`` vs the 40x48 blur of ``data/train/blur``: sizes that differ)."""
    root = world['root']
    for kind in ('blur', 'sharp'):
        os.makedirs(root / 'mixed' / kind, exist_ok=True)
        for name in ('000', '001', '002', '003'):
            image = cv2.imread(str(root / 'data' / 'train' / kind / f'{name}.png'))
            cv2.imwrite(str(root / 'mixed' / kind / f'{name}.png'), image[:20, :20] if name == '003' else image)
    return root / 'mixed'


@pytest.mark.parametrize('case', CASES, ids=case_ids(CASES))
def test_bad_input_is_refused_cleanly(case, world, mixed_sizes, capsys, monkeypatch, tmp_path):
    # the loss case must not find VGG19 in this machine's cache: an empty torch home beside the test root
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    assert_refused_cleanly(case, world, capsys, monkeypatch)
    assert not (tmp_path / 'torch_home').exists()  # not even the cache folder torch.hub makes before looking
