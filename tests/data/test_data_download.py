"""Resumable download against a small HTTP server on 127.0.0.1 started by the test."""
import hashlib
import http.server
import importlib.util
import os
import re
import threading

import numpy as np
import pytest
from dataset_layouts import make_dataset, zip_folder

from basicsr_nafnet.data.download import DownloadError, download
from basicsr_nafnet.data.lmdb_writer import read_meta_info

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PAYLOAD = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD with Range support; while ``server.cut_next`` is set, a response stops halfway."""

    def do_GET(self):
        payload = self.server.payload
        self.server.ranges.append(self.headers.get('Range'))
        start = 0
        match = re.match(r'bytes=(\d+)-$', self.headers.get('Range') or '')
        if match and self.server.honour_range:
            start = int(match.group(1))
            self.send_response(206)
            self.send_header('Content-Range', f'bytes {start}-{len(payload) - 1}/{len(payload)}')
        else:
            self.send_response(200)
        body = payload[start:]
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.server.cut_next:
            self.server.cut_next = False
            self.wfile.write(body[:len(body) // 2])  # then close the connection mid-transfer
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), RangeHandler)
    httpd.ranges, httpd.cut_next, httpd.honour_range, httpd.payload = [], False, True, PAYLOAD
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


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
    assert server.ranges == [None, f'bytes={len(PAYLOAD) // 2}-']
    with open(dest, 'rb') as f:
        assert f.read() == PAYLOAD
    assert not os.path.exists(dest + '.partial')
    download(url_of(server), dest, sha256=SHA256, progress=False)  # complete and verified: no request
    assert len(server.ranges) == 2


def test_retries_resume_within_one_call_and_server_without_range_restarts(server, tmp_path):
    dest = str(tmp_path / 'a.zip')
    server.cut_next = True
    download(url_of(server), dest, sha256=SHA256, progress=False, retries=1)
    assert server.ranges == [None, f'bytes={len(PAYLOAD) // 2}-']
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
        server.payload = f.read()
    script = os.path.join(ROOT, 'scripts', 'prepare_gopro.py')
    spec = importlib.util.spec_from_file_location('prepare_gopro_cli', script)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    dest = str(tmp_path / 'downloads' / 'GoPro.zip')
    assert cli.main(['--download', url_of(server), '--sha256', hashlib.sha256(server.payload).hexdigest(),
                     '--input', dest, '--crop-size', '32', '--step', '16', '--workers', '0', '--no-progress']) == 0
    assert os.path.isdir(tmp_path / 'downloads' / 'GoPro' / 'train' / 'blur_crops.lmdb')
    assert len(read_meta_info(str(tmp_path / 'downloads' / 'GoPro' / 'train' / 'sharp_crops.lmdb'))) == 2 * 6
