"""Resumable download against a small HTTP server on 127.0.0.1 started by the test."""
import hashlib
import importlib.util
import os

import numpy as np
import pytest
from dataset_layouts import make_dataset, zip_folder
from loopback_server import start_server

from basicsr_nafnet.data.download import DownloadError, download
from basicsr_nafnet.data.lmdb_writer import read_meta_info

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PAYLOAD = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def server():
    httpd = start_server()
    httpd.files['/GOPRO_Large.zip'] = PAYLOAD
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def ranges(httpd):
    """The Range header of every request so far (None: the whole file)."""
    return [header for _, header in httpd.requests]


def url_of(httpd):
    return f'http://127.0.0.1:{httpd.server_address[1]}/GOPRO_Large.zip'


def test_cut_transfer_resumes_with_range_and_checks_sha256(server, tmp_path):
    dest = str(tmp_path / 'GOPRO_Large.zip')
    server.cut_next = True
    with pytest.raises(DownloadError, match='run again to resume'):
        download(url_of(server), dest, sha256=SHA256, progress=False, retries=0)
    assert not os.path.exists(dest)
    assert os.path.getsize(dest + '.partial') == len(PAYLOAD) // 2
    assert download(url_of(server), dest, sha256=SHA256, progress=False) == dest
    assert ranges(server) == [None, f'bytes={len(PAYLOAD) // 2}-']
    with open(dest, 'rb') as f:
        assert f.read() == PAYLOAD
    assert not os.path.exists(dest + '.partial')
    download(url_of(server), dest, sha256=SHA256, progress=False)  # complete and verified: no request
    assert len(ranges(server)) == 2


def test_retries_resume_within_one_call_and_server_without_range_restarts(server, tmp_path):
    dest = str(tmp_path / 'a.zip')
    server.cut_next = True
    download(url_of(server), dest, sha256=SHA256, progress=False, retries=1)
    assert ranges(server) == [None, f'bytes={len(PAYLOAD) // 2}-']
    server.honour_range, server.cut_next = False, True
    dest = str(tmp_path / 'b.zip')
    with pytest.raises(DownloadError):
        download(url_of(server), dest, progress=False, retries=0)
    download(url_of(server), dest, size=len(PAYLOAD), progress=False)
    with open(dest, 'rb') as f:
        assert f.read() == PAYLOAD


def test_wrong_checksum_is_refused_and_nothing_is_renamed(server, tmp_path):
    dest = str(tmp_path / 'c.zip')
    with pytest.raises(DownloadError, match='does not match'):
        download(url_of(server), dest, sha256='0' * 64, progress=False)
    assert not os.path.exists(dest) and not os.path.exists(dest + '.partial')


def test_cli_downloads_then_converts(server, tmp_path):
    make_dataset(str(tmp_path / 'src'), 'flattened', n=2)
    with open(zip_folder(str(tmp_path / 'src'), str(tmp_path / 'GoPro_src.zip'), prefix='GoPro/'), 'rb') as f:
        payload = server.files['/GOPRO_Large.zip'] = f.read()
    script = os.path.join(ROOT, 'scripts', 'prepare_gopro.py')
    spec = importlib.util.spec_from_file_location('prepare_gopro_cli', script)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    dest = str(tmp_path / 'downloads' / 'GoPro.zip')
    assert cli.main(['--download', url_of(server), '--sha256', hashlib.sha256(payload).hexdigest(),
                     '--input', dest, '--crop-size', '32', '--step', '16', '--workers', '0', '--no-progress']) == 0
    assert os.path.isdir(tmp_path / 'downloads' / 'GoPro' / 'train' / 'blur_crops.lmdb')
    assert len(read_meta_info(str(tmp_path / 'downloads' / 'GoPro' / 'train' / 'sharp_crops.lmdb'))) == 2 * 6
