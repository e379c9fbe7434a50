"""Weights by name or URL against a checkpoint server on 127.0.0.1: download, cache, resume, checksum, lock, Drive."""
import hashlib
import os
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from basicsr.archs import build_network

from tiny_models import TINY_ARCH_CONFIGS
from loopback_server import checkpoint_bytes, closed_port_url, url

from basicsr_nafnet.data.download import CACHE_ENV, DownloadError, OfflineError, download, file_lock
from basicsr_nafnet.inference.layouts import read_official_state_dict
from basicsr_nafnet.inference.zoo import ZOO, ZOO_ENV, WeightsUnavailableError, resolve_weights

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = dict(TINY_ARCH_CONFIGS['NAFNetLocal'])


def tiny_net():
    net = build_network({'type': 'NAFNetLocal', **TINY})
    with torch.no_grad():  # beta and gamma start at zero; random values make a wrong load visible
        for p in net.parameters():
            p.normal_(0, 0.1)
    return net.eval()


def loads_strictly(path, net):
    _, state = read_official_state_dict(path)
    fresh = build_network({'type': 'NAFNetLocal', **TINY}).eval()
    fresh.load_state_dict(state, strict=True)
    x = torch.rand(1, 3, 24, 20)
    with torch.no_grad():
        assert torch.equal(fresh(x), net(x))


@pytest.mark.parametrize('layout', ['params', 'params_ema', 'mmagic'])
def test_named_model_downloads_once_then_comes_from_the_cache(server, user_zoo, tmp_path, layout):
    net = tiny_net()
    if layout == 'mmagic':
        ckpt = {'meta': {'mmagic_version': '1.0'},
                'state_dict': {'generator.' + k: v for k, v in net.state_dict().items()}}
    else:
        ckpt = {layout: net.state_dict()}
    server.files['/tiny.pth'] = payload = checkpoint_bytes(ckpt, tmp_path)
    user_zoo({'tiny': {'arch': 'NAFNetLocal', 'options': TINY,
                       'sources': [{'url': url(server, '/tiny.pth'), 'layout': 'official' if layout != 'mmagic'
                                    else 'mmagic', 'filename': 'tiny.pth'}]}})
    cache = str(tmp_path / 'cache')
    path = resolve_weights('tiny', cache=cache, progress=False)
    assert path == os.path.join(cache, 'tiny.pth')
    with open(path, 'rb') as f:
        assert f.read() == payload
    digest = hashlib.sha256(payload).hexdigest()
    assert open(path + '.sha256').read().split() == [digest, 'tiny.pth']
    assert not os.path.exists(path + '.partial')
    loads_strictly(path, net)
    assert resolve_weights('tiny', cache=cache, progress=False) == path
    assert server.requests == [('/tiny.pth', None)]  # the second call made no request


def test_url_and_cache_variable(server, tmp_path, monkeypatch):
    server.files['/models/net.pth'] = checkpoint_bytes({'params': tiny_net().state_dict()}, tmp_path)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / 'mirror'))
    path = resolve_weights(url(server, '/models/net.pth'), progress=False)
    assert path == str(tmp_path / 'mirror' / 'net.pth')
    server.files['/drive/abc'] = b'x' * 10  # a URL without a checkpoint name: a name from its hash
    other = resolve_weights(url(server, '/download?id=abc&confirm=t0k3n&uuid=8c0e7e0a-0000-4000-8000-000000000000'),
                            progress=False)
    assert os.path.basename(other).startswith('url-') and open(other, 'rb').read() == b'x' * 10


def test_cut_connection_resumes(server, user_zoo, tmp_path):
    net = tiny_net()
    server.files['/tiny.pth'] = payload = checkpoint_bytes({'params': net.state_dict()}, tmp_path)
    user_zoo({'tiny': {'arch': 'NAFNetLocal', 'options': TINY, 'sources': [url(server, '/tiny.pth')]}})
    server.cut_next = True
    path = resolve_weights('tiny', cache=str(tmp_path / 'cache'), progress=False)
    assert server.requests == [('/tiny.pth', None), ('/tiny.pth', f'bytes={len(payload) // 2}-')]
    assert open(path, 'rb').read() == payload
    loads_strictly(path, net)


def test_wrong_checksum_refused_and_a_changed_file_refused_later(server, user_zoo, tmp_path):
    server.files['/tiny.pth'] = payload = checkpoint_bytes({'params': tiny_net().state_dict()}, tmp_path)
    cache = tmp_path / 'cache'
    user_zoo({'tiny': {'arch': 'NAFNetLocal', 'sources': [{'url': url(server, '/tiny.pth'), 'sha256': '0' * 64}]}})
    with pytest.raises(WeightsUnavailableError, match='does not match the expected 0000') as err:
        resolve_weights('tiny', cache=str(cache), progress=False)
    assert '\n' not in str(err.value)
    assert not (cache / 'tiny.pth').exists() and not (cache / 'tiny.pth.partial').exists()

    user_zoo({'tiny': {'arch': 'NAFNetLocal', 'sources': [{'url': url(server, '/tiny.pth'),
                                                           'sha256': hashlib.sha256(payload).hexdigest()}]}})
    path = resolve_weights('tiny', cache=str(cache), progress=False)
    with open(path, 'r+b') as f:  # the cached file changes after its download
        f.seek(100)
        f.write(b'\0\1\2')
    with pytest.raises(DownloadError, match='SHA-256') as err:
        resolve_weights('tiny', cache=str(cache), progress=False)
    assert path in str(err.value) and '\n' not in str(err.value)
    assert len(server.requests) == 2  # refused, not downloaded over

    user_zoo({'tiny': {'arch': 'NAFNetLocal', 'sources': [url(server, '/tiny.pth')]}})  # no sha256 in the zoo:
    with pytest.raises(DownloadError, match='recorded in .*tiny.pth.sha256 when it was downloaded'):
        resolve_weights('tiny', cache=str(cache), progress=False)  # the record beside the file still refuses it


def _downloader(server, dest, go):
    """A process that imports, says 'ready', waits for the file ``go``, then downloads /big.pth to ``dest``."""
    code = textwrap.dedent(f'''
        import os, time
        from basicsr_nafnet.data.download import download
        print('ready', flush=True)
        while not os.path.exists({go!r}):
            time.sleep(0.01)
        print(download({url(server, '/big.pth')!r}, {dest!r}, progress=False, record_sha256=True), flush=True)
    ''')
    proc = subprocess.Popen([sys.executable, '-c', code], env=dict(os.environ, PYTHONPATH=ROOT), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().strip() == 'ready', proc.stderr.read()
    return proc


def test_two_processes_download_one_file_once(server, tmp_path):
    server.files['/big.pth'] = payload = os.urandom(200_000)
    server.chunk_delay = 0.02  # a 1 s transfer: both processes ask while the first one holds the lock
    dest, go = str(tmp_path / 'cache' / 'big.pth'), str(tmp_path / 'go')
    procs = [_downloader(server, dest, go) for _ in range(2)]
    open(go, 'w').close()
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert [o.strip() for o, _ in outs] == [dest, dest]
    assert server.requests == [('/big.pth', None)]  # the second waited, then found the finished file
    assert open(dest, 'rb').read() == payload
    assert open(dest + '.sha256').read().split()[0] == hashlib.sha256(payload).hexdigest()


def test_a_held_lock_makes_the_other_process_wait(server, tmp_path):
    server.files['/big.pth'] = payload = os.urandom(10_000)
    dest, go = str(tmp_path / 'big.pth'), str(tmp_path / 'go')
    with file_lock(dest + '.lock', progress=False):
        proc = _downloader(server, dest, go)
        open(go, 'w').close()
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=1.5)
        assert server.requests == [] and not os.path.exists(dest + '.partial')
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and out.strip() == dest, err
    assert open(dest, 'rb').read() == payload


@pytest.mark.parametrize('flow', ['/uc', '/uc-cookie'])
def test_drive_confirmation_page_is_answered(server, tmp_path, flow):
    server.files['/drive/FILEID1234567'] = payload = os.urandom(50_000)
    dest = str(tmp_path / 'drive.pth')
    download(url(server, f'{flow}?export=download&id=FILEID1234567'), dest, progress=False)
    assert open(dest, 'rb').read() == payload
    assert server.requests[0][0] == flow and server.requests[-1][0] == ('/download' if flow == '/uc' else flow)


def test_a_web_page_without_token_is_an_error_not_a_checkpoint(server, tmp_path):
    dest = str(tmp_path / 'x.pth')
    with pytest.raises(DownloadError, match='web page instead of the file'):
        download(url(server, '/download?id=nope'), dest, progress=False)
    assert not os.path.exists(dest) and len(server.requests) == 1  # not retried


@pytest.mark.parametrize('name', list(ZOO))
def test_offline_error_for_every_named_model(name, user_zoo, tmp_path):
    sources = [{'url': closed_port_url(f'/{i}.pth'), 'filename': s['filename'], 'layout': s['layout']}
               for i, s in enumerate(ZOO[name]['sources'])]
    user_zoo({name: {'sources': sources}})  # our entry, every source at a closed port: nothing leaves loopback
    cache = tmp_path / 'cache'
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError) as err:
        resolve_weights(name, cache=str(cache), progress=False)
    assert time.monotonic() - start < 5
    message = str(err.value)
    assert '\n' not in message and message.startswith(f'{name}: ')
    assert 'cannot reach 127.0.0.1' in message and 'by hand' in message
    assert str(cache / f'{name}.pth') in message and CACHE_ENV in message and ZOO_ENV in message
    assert not [f for f in os.listdir(cache) if not f.endswith('.lock')]  # no partial, no checkpoint


def test_offline_error_is_immediate_and_not_retried(tmp_path):
    start = time.monotonic()
    with pytest.raises(OfflineError, match='cannot reach 127.0.0.1'):
        download(closed_port_url(), str(tmp_path / 'w.pth'), progress=False, retries=5)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize('name', list(ZOO))
def test_a_file_put_in_the_cache_by_hand_is_used_without_network(name, tmp_path, monkeypatch):
    # the offline message's advice, followed: nothing is downloaded (the real sources are never asked)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    (tmp_path / f'{name}.pth').write_bytes(b'weights')
    monkeypatch.setattr('basicsr_nafnet.inference.zoo.download', lambda *a, **k: pytest.fail('downloaded'))
    assert resolve_weights(name, progress=False) == str(tmp_path / f'{name}.pth')
    assert open(tmp_path / f'{name}.pth.sha256').read().split()[0] == hashlib.sha256(b'weights').hexdigest()
