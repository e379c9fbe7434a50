"""The one-pass LMDB converter: round trip, zip == folder, bad input, interruption, BasicSR reads the result."""
import importlib.util
import os

import cv2
import lmdb
import numpy as np
import pytest
from dataset_layouts import make_dataset, write_png, zip_folder

from basicsr_nafnet.data import prepare as prepare_module
from basicsr_nafnet.data.layout import find_pairs
from basicsr_nafnet.data.lmdb_writer import OutputExistsError, read_meta_info
from basicsr_nafnet.data.prepare import DatasetError, crop_positions, output_paths, prepare_gopro
from basicsr_nafnet.data.verify import LmdbCheckError, verify_lmdb_pair

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def lmdb_records(path):
    with lmdb.open(path, readonly=True, lock=False) as env, env.begin() as txn:
        return dict(txn.cursor())


def decode(value):
    return cv2.imdecode(np.frombuffer(value, np.uint8), cv2.IMREAD_UNCHANGED)


def all_lmdbs(folder):
    return sorted(os.path.relpath(os.path.join(b, d), folder) for b, ds, _ in os.walk(folder) for d in ds
                  if '.lmdb' in d)


def test_crop_positions_include_the_edge_crop():
    assert crop_positions(720, 512, 256) == [0, 208]
    assert crop_positions(1280, 512, 256) == [0, 256, 512, 768]
    assert crop_positions(40, 32, 16) == [0, 8]
    assert crop_positions(32, 32, 16) == [0]
    with pytest.raises(ValueError, match='larger than the image'):
        crop_positions(16, 32, 16)


def test_round_trip_is_pixel_exact(tmp_path):
    images = make_dataset(str(tmp_path / 'data'), 'flattened', n=2, size=(40, 56))
    paths = prepare_gopro(str(tmp_path / 'data'), str(tmp_path / 'out'), crop_size=32, step=16, workers=0,
                          verify=True, progress=False)
    assert paths['train']['lq'] == str(tmp_path / 'out' / 'train' / 'blur_crops.lmdb')
    assert paths['test']['gt'] == str(tmp_path / 'out' / 'test' / 'target.lmdb')
    train = {side: lmdb_records(paths['train'][side]) for side in ('lq', 'gt')}
    meta = read_meta_info(paths['train']['lq'])
    assert [k for k, _, _ in meta] == [f'{i:06d}_s{j:03d}' for i in (1, 2) for j in range(1, 7)]  # 2 rows x 3 cols
    assert all(shape == (32, 32, 3) and level == 1 for _, shape, level in meta)
    with open(os.path.join(paths['train']['lq'], 'meta_info.txt')) as f:
        assert f.readline() == '000001_s001.png (32,32,3) 1\n'
    starts = [(y, x) for y in (0, 8) for x in (0, 16, 24)]
    for i in (1, 2):
        for j, (y, x) in enumerate(starts, 1):
            key = f'{i:06d}_s{j:03d}'.encode()
            for side, folder in (('lq', 'blur'), ('gt', 'sharp')):
                source = images[f'train/{folder}/{i:06d}.png']
                np.testing.assert_array_equal(decode(train[side][key]), source[y:y + 32, x:x + 32])
    test = lmdb_records(paths['test']['lq'])
    np.testing.assert_array_equal(decode(test[b'000002']), images['test/blur/000002.png'])


def test_zip_output_equals_folder_output_byte_for_byte(tmp_path):
    make_dataset(str(tmp_path / 'data'), 'GOPRO_Large', n=2, size=(40, 56))
    archive = zip_folder(str(tmp_path / 'data'), str(tmp_path / 'GOPRO_Large.zip'), prefix='GOPRO_Large/')
    from_folder = prepare_gopro(str(tmp_path / 'data'), str(tmp_path / 'a'), crop_size=32, step=16, workers=0,
                                progress=False)
    from_zip = prepare_gopro(archive, None, crop_size=32, step=16, workers=2, progress=False)  # default: beside the zip
    assert from_zip['train']['lq'] == str(tmp_path / 'GOPRO_Large' / 'train' / 'blur_crops.lmdb')
    for split in ('train', 'test'):
        for side in ('lq', 'gt'):
            a, b = from_folder[split][side], from_zip[split][side]
            assert lmdb_records(a) == lmdb_records(b)
            for name in ('meta_info.txt', 'data.mdb'):
                with open(os.path.join(a, name), 'rb') as fa, open(os.path.join(b, name), 'rb') as fb:
                    assert fa.read() == fb.read(), name
    assert len(read_meta_info(from_zip['train']['gt'])) == 4 * 6  # 2 sequences x 2 frames x 6 crops


def test_bad_inputs_are_all_listed_before_anything_is_written(tmp_path):
    data = tmp_path / 'data'
    make_dataset(str(data), 'flattened', n=6, size=(40, 56))
    rng = np.random.default_rng(1)
    write_png(str(data / 'train' / 'blur' / '000001.png'), rng.integers(0, 256, (40, 56), dtype=np.uint8))  # gray
    write_png(str(data / 'train' / 'sharp' / '000002.png'), rng.integers(0, 256, (40, 56, 4), dtype=np.uint8))
    write_png(str(data / 'train' / 'blur' / '000003.png'), rng.integers(0, 65535, (40, 56, 3), dtype=np.uint16))
    with open(data / 'train' / 'sharp' / '000004.png', 'r+b') as f:  # truncated
        f.truncate(200)
    write_png(str(data / 'test' / 'sharp' / '000005.png'), rng.integers(0, 256, (48, 56, 3), dtype=np.uint8))
    with pytest.raises(DatasetError) as err:
        prepare_gopro(str(data), str(tmp_path / 'out'), crop_size=32, step=16, workers=0, progress=False)
    message = str(err.value)
    assert '5 problem(s)' in message
    assert 'train/blur/000001.png: grayscale' in message
    assert 'train/sharp/000002.png: RGBA' in message
    assert 'train/blur/000003.png: 16-bit RGB' in message
    assert 'train/sharp/000004.png: truncated' in message
    assert 'test/blur/000005.png is 56x40 but test/sharp/000005.png is 56x48' in message
    assert not (tmp_path / 'out').exists() or all_lmdbs(str(tmp_path / 'out')) == []


def test_images_smaller_than_the_crop_are_reported(tmp_path):
    make_dataset(str(tmp_path / 'data'), 'NAFNet', n=1, size=(24, 40))
    with pytest.raises(DatasetError, match='24 is smaller than the crop size 32'):
        prepare_gopro(str(tmp_path / 'data'), crop_size=32, step=16, workers=0, progress=False)


def test_existing_output_is_kept_without_overwrite(tmp_path):
    make_dataset(str(tmp_path / 'data'), 'NAFNet', n=1)
    paths = prepare_gopro(str(tmp_path / 'data'), crop_size=32, step=16, workers=0, progress=False)
    assert paths['train']['lq'] == str(tmp_path / 'data' / 'train' / 'blur_crops.lmdb')  # default: in the input
    before = lmdb_records(paths['test']['gt'])
    with pytest.raises(OutputExistsError, match='--overwrite'):
        prepare_gopro(str(tmp_path / 'data'), crop_size=32, step=16, workers=0, progress=False)
    # the LMDBs inside the dataset folder do not disturb the layout on a second run
    prepare_gopro(str(tmp_path / 'data'), crop_size=32, step=16, workers=0, overwrite=True, progress=False)
    assert lmdb_records(paths['test']['gt']) == before


def test_interrupted_conversion_leaves_no_lmdb_and_a_rerun_completes(tmp_path, monkeypatch):
    make_dataset(str(tmp_path / 'data'), 'flattened', n=4, size=(40, 56))
    real_encode = prepare_module.encode_png
    calls = {'n': 0}

    def failing_encode(img, level):  # runs inside the forked worker processes
        calls['n'] += 1
        if calls['n'] == 5:
            raise RuntimeError('injected failure')
        return real_encode(img, level)

    monkeypatch.setattr(prepare_module, 'encode_png', failing_encode)
    with pytest.raises(RuntimeError, match='injected failure'):
        prepare_gopro(str(tmp_path / 'data'), str(tmp_path / 'out'), crop_size=32, step=16, workers=2, progress=False)
    assert all_lmdbs(str(tmp_path / 'out')) == []  # neither final nor .partial folders
    monkeypatch.setattr(prepare_module, 'encode_png', real_encode)
    paths = prepare_gopro(str(tmp_path / 'data'), str(tmp_path / 'out'), crop_size=32, step=16, workers=2,
                          verify=True, progress=False)
    assert len(read_meta_info(paths['train']['lq'])) == 4 * 6


def test_verify_finds_a_corrupt_record(tmp_path):
    make_dataset(str(tmp_path / 'data'), 'flattened', n=1)
    paths = prepare_gopro(str(tmp_path / 'data'), crop_size=32, step=16, workers=0, splits=['test'], progress=False)
    assert list(paths) == ['test']
    assert verify_lmdb_pair(paths['test']['lq'], paths['test']['gt']) == 1
    with lmdb.open(paths['test']['gt']) as env, env.begin(write=True) as txn:
        txn.put(b'000001', b'not a png')
    with pytest.raises(LmdbCheckError, match='000001: cannot decode'):
        verify_lmdb_pair(paths['test']['lq'], paths['test']['gt'])


def test_basicsr_paired_image_dataset_reads_our_lmdbs(tmp_path):
    from basicsr.data.paired_image_dataset import PairedImageDataset

    data = tmp_path / 'data'
    images = make_dataset(str(data), 'flattened', n=2, size=(40, 56))
    for rel, img in images.items():  # sharp = negative of blur, so the pairing of every crop can be checked
        if '/blur/' in rel:
            write_png(str(data / rel.replace('/blur/', '/sharp/')), 255 - img)
    paths = prepare_gopro(str(data), crop_size=32, step=16, workers=0, progress=False)
    train = PairedImageDataset(dict(dataroot_lq=paths['train']['lq'], dataroot_gt=paths['train']['gt'],
                                    io_backend=dict(type='lmdb'), gt_size=16, use_hflip=True, use_rot=True,
                                    scale=1, phase='train'))
    assert len(train) == 2 * 6
    for index in range(len(train)):
        item = train[index]
        assert item['lq'].shape == item['gt'].shape == (3, 16, 16)
        np.testing.assert_allclose(item['gt'].numpy(), 1 - item['lq'].numpy(), atol=1e-6)
    test = PairedImageDataset(dict(dataroot_lq=paths['test']['lq'], dataroot_gt=paths['test']['gt'],
                                   io_backend=dict(type='lmdb'), scale=1, phase='val'))
    item = test[1]
    assert item['lq_path'] == '000002' and item['lq'].shape == (3, 40, 56)
    expected = images['test/blur/000002.png'][:, :, ::-1].transpose(2, 0, 1) / 255.0  # BGR file -> RGB tensor
    np.testing.assert_allclose(item['lq'].numpy(), expected, atol=1e-6)


def test_cli_converts_a_hide_zip(tmp_path):
    script = os.path.join(ROOT, 'scripts', 'prepare_gopro.py')
    spec = importlib.util.spec_from_file_location('prepare_gopro_cli', script)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    make_dataset(str(tmp_path / 'HIDE'), 'HIDE', n=3)
    archive = zip_folder(str(tmp_path / 'HIDE'), str(tmp_path / 'HIDE.zip'))
    assert cli.main(['--input', archive, '--output', str(tmp_path / 'out'), '--workers', '0', '--verify',
                     '--no-progress']) == 0
    paths = output_paths(str(tmp_path / 'out'), ['test'])
    assert sorted(os.listdir(tmp_path / 'out')) == ['test']
    assert [k for k, _, _ in read_meta_info(paths['test']['gt'])] == [p.key for p in find_pairs(archive, 'test')[1]]
