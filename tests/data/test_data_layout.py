"""Layout detection and pairing (folder and zip), zip-slip refusal, reading one image of a pair."""
import os
import zipfile

import numpy as np
import pytest
from dataset_layouts import SEQUENCES, make_dataset, write_png, zip_folder

from basicsr_nafnet.data.layout import LayoutError, find_pairs, find_splits, read_image
from basicsr_nafnet.data.source import UnsafeArchiveError


@pytest.mark.parametrize('layout', ['GOPRO_Large', 'flattened', 'NAFNet', 'HIDE'])
def test_each_layout_is_detected_and_paired_in_folder_and_zip(tmp_path, layout):
    folder = tmp_path / 'data'
    images = make_dataset(str(folder), layout)
    archive = zip_folder(str(folder), str(tmp_path / 'data.zip'), prefix='GOPRO_Large/')
    split = 'test'
    name, pairs = find_pairs(str(folder), split)
    assert name == layout
    zname, zpairs = find_pairs(archive, split)
    assert zname == layout
    assert [p.key for p in zpairs] == [p.key for p in pairs]
    assert [p.blur for p in zpairs] == ['GOPRO_Large/' + p.blur for p in pairs]
    expected = 2 * len(SEQUENCES) if layout == 'GOPRO_Large' else 2
    assert len(pairs) == expected
    for pair in pairs:
        assert '.' not in pair.key
        assert os.path.splitext(os.path.basename(pair.blur))[0] == os.path.splitext(os.path.basename(pair.sharp))[0]
        np.testing.assert_array_equal(read_image(str(folder), pair.blur), images[pair.blur])
        np.testing.assert_array_equal(read_image(archive, 'GOPRO_Large/' + pair.sharp), images[pair.sharp])
    assert find_splits(str(folder)) == (['test'] if layout == 'HIDE' else ['train', 'test'])


def test_gopro_keys_carry_the_sequence_and_blur_dir_is_selectable(tmp_path):
    make_dataset(str(tmp_path), 'GOPRO_Large', n=1)
    _, pairs = find_pairs(str(tmp_path), 'train')
    assert [p.key for p in pairs] == ['GOPR0372_07_00-000001', 'GOPR0384_11_01-000001']
    assert pairs[0].blur == 'train/GOPR0372_07_00/blur/000001.png'
    _, gamma = find_pairs(str(tmp_path), 'train', blur_dir='blur_gamma')
    assert gamma[0].blur == 'train/GOPR0372_07_00/blur_gamma/000001.png'


def test_zip_with_parent_member_is_refused(tmp_path):
    archive = tmp_path / 'evil.zip'
    with zipfile.ZipFile(archive, 'w') as zf:
        zf.writestr('train/blur/000001.png', b'x')
        zf.writestr('../escape.png', b'x')
        zf.writestr('train/../../also.png', b'x')
    with pytest.raises(UnsafeArchiveError) as err:
        find_pairs(str(archive), 'train')
    assert '../escape.png' in str(err.value) and 'train/../../also.png' in str(err.value)


def test_unpaired_files_are_all_listed(tmp_path):
    make_dataset(str(tmp_path), 'flattened', n=3)
    os.remove(tmp_path / 'train' / 'sharp' / '000001.png')
    os.remove(tmp_path / 'train' / 'blur' / '000003.png')
    with pytest.raises(LayoutError) as err:
        find_pairs(str(tmp_path), 'train')
    message = str(err.value)
    assert '2 file(s) without a partner' in message
    assert 'train/blur/000001.png (no sharp image)' in message
    assert 'train/sharp/000003.png (no blurred image)' in message


def test_unknown_layout_and_empty_folders(tmp_path):
    write_png(str(tmp_path / 'train' / 'lq' / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(LayoutError, match='(?s)unknown dataset layout.*train/lq/'):
        find_pairs(str(tmp_path), 'train')
    empty = tmp_path / 'empty'
    (empty / 'train' / 'blur').mkdir(parents=True)
    (empty / 'train' / 'sharp').mkdir(parents=True)
    with pytest.raises(LayoutError, match='no image files at all'):
        find_pairs(str(empty), 'train')
    write_png(str(tmp_path / 'other' / 'blurry' / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(LayoutError, match='(?s)unknown dataset layout.*blurry/'):
        find_pairs(str(tmp_path / 'other'), 'train')


def test_hide_has_no_train_split(tmp_path):
    make_dataset(str(tmp_path), 'HIDE')
    with pytest.raises(LayoutError, match='HIDE layout has a test split only'):
        find_pairs(str(tmp_path), 'train')
