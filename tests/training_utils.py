"""Tiny paired data and option files for the training tests."""
import os

import cv2
import numpy as np
import yaml
from skimage import data as skdata


def make_paired_folders(root, n_train=6, n_val=2, size=(40, 48), seed=0):
    """Sharp crops of scikit-image photographs and a horizontally box-blurred copy, as PNG folders."""
    rng = np.random.default_rng(seed)
    photos = [skdata.astronaut(), skdata.coffee(), skdata.chelsea(), skdata.rocket()]
    for split, count in (('train', n_train), ('val', n_val)):
        for kind in ('blur', 'sharp'):
            os.makedirs(os.path.join(root, split, kind), exist_ok=True)
        for i in range(count):
            photo = photos[(i + (split == 'val')) % len(photos)][:, :, ::-1]
            y = int(rng.integers(0, photo.shape[0] - size[0]))
            x = int(rng.integers(0, photo.shape[1] - size[1]))
            sharp = np.ascontiguousarray(photo[y:y + size[0], x:x + size[1]])
            cv2.imwrite(os.path.join(root, split, 'sharp', f'{i:03d}.png'), sharp)
            cv2.imwrite(os.path.join(root, split, 'blur', f'{i:03d}.png'), cv2.blur(sharp, (7, 1)))
    return root


def tiny_options(root, name='tiny', network=None, total_iter=6, **overrides):
    """An ImageRestorationModel option dict training on the folders of :func:`make_paired_folders`."""
    opt = {
        'name': name, 'model_type': 'ImageRestorationModel', 'scale': 1, 'num_gpu': 0, 'manual_seed': 10,
        'datasets': {
            'train': {'name': 'tiny-train', 'type': 'PairedImageDataset', 'dataroot_gt': f'{root}/train/sharp',
                      'dataroot_lq': f'{root}/train/blur', 'filename_tmpl': '{}', 'io_backend': {'type': 'disk'},
                      'gt_size': 24, 'use_hflip': True, 'use_rot': True, 'num_worker_per_gpu': 0,
                      'batch_size_per_gpu': 2, 'dataset_enlarge_ratio': 1},
            'val': {'name': 'tiny-val', 'type': 'PairedImageDataset', 'dataroot_gt': f'{root}/val/sharp',
                    'dataroot_lq': f'{root}/val/blur', 'io_backend': {'type': 'disk'}},
        },
        'network_g': network or {'type': 'NAFNet', 'width': 8, 'enc_blk_nums': [1, 1], 'middle_blk_num': 1,
                                 'dec_blk_nums': [1, 1]},
        'path': {'pretrain_network_g': None, 'strict_load_g': True, 'resume_state': None},
        'train': {'optim_g': {'type': 'AdamW', 'lr': 1e-3, 'weight_decay': 0.0, 'betas': [0.9, 0.9]},
                  'scheduler': {'type': 'TrueCosineAnnealingLR', 'T_max': 20, 'eta_min': 1e-7},
                  'total_iter': total_iter, 'warmup_iter': -1,
                  'pixel_opt': {'type': 'PSNRLoss', 'loss_weight': 1, 'reduction': 'mean'}},
        'val': {'val_freq': total_iter, 'save_img': True, 'save_comparison': True, 'pbar': False,
                'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 0, 'test_y_channel': False}}},
        'logger': {'print_freq': 2, 'save_checkpoint_freq': total_iter, 'use_tb_logger': False},
    }
    for dotted, value in overrides.items():
        node = opt
        *parents, last = dotted.split('__')
        for key in parents:
            node = node[key]
        node[last] = value
    return opt


def tiny_test_options(root, name, checkpoint):
    """A ``test.py`` option dict: the tiny NAFNet of ``tiny_models`` with ``checkpoint`` on the ``val`` folders."""
    from tiny_models import TINY_ARGS

    return {'name': name, 'model_type': 'ImageRestorationModel', 'scale': 1, 'num_gpu': 0,
            'datasets': {'test': {'name': 'tiny', 'type': 'PairedImageDataset', 'dataroot_gt': f'{root}/val/sharp',
                                  'dataroot_lq': f'{root}/val/blur', 'io_backend': {'type': 'disk'}}},
            'network_g': dict(type='NAFNet', **TINY_ARGS),
            'path': {'pretrain_network_g': str(checkpoint), 'strict_load_g': True},
            'val': {'save_img': True, 'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 0}}}}


def write_options(opt, path):
    with open(path, 'w') as f:
        yaml.safe_dump(opt, f, sort_keys=False)
    return str(path)


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def command_env():
    """The environment of a command run as a subprocess: this checkout importable, one thread (two runs compare)."""
    return dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''), OMP_NUM_THREADS='1',
                PYTHONUNBUFFERED='1')


def train_command(opt_path, *args, script='train.py'):
    """``python basicsr_nafnet/<script> -opt <opt_path> ...`` as a subprocess argument list."""
    import sys

    return [sys.executable, os.path.join(REPO, 'basicsr_nafnet', script), '-opt', str(opt_path), *args]
