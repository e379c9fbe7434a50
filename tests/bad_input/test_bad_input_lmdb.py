"""Bad input, LMDB datasets whose files do not hold what meta_info.txt lists: train and test refuse them in one line.

A truncated data.mdb (an interrupted copy) used to end training with SIGBUS and no message, after the run folder
was made; a folder without data.mdb with an lmdb traceback. The check, the world and the catalogue:
bad_input_harness.py and conftest.py; the broken copies of a converted LMDB are made here, beside the world's own.
"""
import os
import shutil

import pytest
from bad_input_harness import assert_refused_cleanly, case_ids
from training_utils import tiny_options, write_options

from basicsr_nafnet.data.verify import LmdbCheckError, check_lmdb_files, verify_lmdb_pair


def _lmdb(name):
    return ['--force_yml', 'datasets:train:io_backend:type=lmdb',
            f'datasets:train:dataroot_lq=lmdb/{name}/blur_crops.lmdb',
            f'datasets:train:dataroot_gt=lmdb/{name}/sharp_crops.lmdb']


CASES = [
    ('train-lmdb-without-data-mdb', 'train', ['-opt', 'ok.yml', *_lmdb('nodata')], 2,
     ['datasets.train.dataroot_gt', 'sharp_crops.lmdb/data.mdb', 'missing']),
    ('train-lmdb-truncated-data-mdb', 'train', ['-opt', 'ok.yml', *_lmdb('truncated')], 2,
     ['datasets.train.dataroot_gt', 'sharp_crops.lmdb/data.mdb', 'truncated']),
    ('train-lmdb-blurred-side-truncated', 'train', ['-opt', 'ok.yml', *_lmdb('truncated_lq')], 2,
     ['datasets.train.dataroot_lq', 'blur_crops.lmdb/data.mdb', 'truncated']),
    ('train-lmdb-data-mdb-cut-to-nothing', 'train', ['-opt', 'ok.yml', *_lmdb('empty')], 2,
     ['datasets.train.dataroot_gt', 'data.mdb', 'not a readable LMDB']),
    ('test-lmdb-truncated-data-mdb', 'test', ['-opt', 'lmdb_truncated_test.yml'], 2,
     ['datasets.test.dataroot_gt', 'data.mdb', 'truncated']),
]


def _copy_pair(world, name):
    target = world['root'] / 'lmdb' / name
    for side in ('blur_crops.lmdb', 'sharp_crops.lmdb'):
        shutil.copytree(world['root'] / 'syn' / 'train' / side, target / side)
    return target


@pytest.fixture(scope='module', autouse=True)
def broken_lmdbs(world):
    """Copies of the world's converted training LMDBs: intact, without data.mdb, and with data.mdb cut short."""
    if (world['root'] / 'lmdb').exists():
        return world['root'] / 'lmdb'
    _copy_pair(world, 'intact')
    os.remove(_copy_pair(world, 'nodata') / 'sharp_crops.lmdb' / 'data.mdb')
    for name, side, size in (('truncated', 'sharp_crops.lmdb', 0.5), ('truncated_lq', 'blur_crops.lmdb', 0.5),
                             ('empty', 'sharp_crops.lmdb', 0)):
        data = _copy_pair(world, name) / side / 'data.mdb'
        os.truncate(data, int(os.path.getsize(data) * size))
    opt = tiny_options('data', name='lmdb-test')
    opt.pop('train')
    opt['datasets'] = {'test': {'name': 'lmdb-test', 'type': 'PairedImageDataset', 'io_backend': {'type': 'lmdb'},
                                'dataroot_gt': 'lmdb/truncated/sharp_crops.lmdb',
                                'dataroot_lq': 'lmdb/truncated/blur_crops.lmdb'}}
    opt['path']['pretrain_network_g'] = 'tiny.pth'
    opt['val'].pop('val_freq')
    write_options(opt, world['root'] / 'lmdb_truncated_test.yml')
    return world['root'] / 'lmdb'


@pytest.mark.parametrize('case', CASES, ids=case_ids(CASES))
def test_bad_input_is_refused_cleanly(case, world, capsys, monkeypatch):
    assert_refused_cleanly(case, world, capsys, monkeypatch)


def test_the_check_passes_complete_lmdbs_and_names_broken_ones(broken_lmdbs):
    intact = broken_lmdbs / 'intact'
    assert check_lmdb_files(str(intact / 'sharp_crops.lmdb')) is None
    assert verify_lmdb_pair(str(intact / 'blur_crops.lmdb'), str(intact / 'sharp_crops.lmdb')) > 0
    broken = broken_lmdbs / 'truncated'
    assert 'truncated' in check_lmdb_files(str(broken / 'sharp_crops.lmdb'))
    with pytest.raises(LmdbCheckError, match='truncated'):  # the full check reads no record of a truncated file
        verify_lmdb_pair(str(broken / 'blur_crops.lmdb'), str(broken / 'sharp_crops.lmdb'))
