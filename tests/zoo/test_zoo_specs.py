"""Weights by zoo name or URL wherever a model spec is accepted: the spec seam (open_model) and deblur's CLI."""
import importlib.util
import os
import time

import cv2
import numpy as np
import pytest
import torch
import yaml
from basicsr.archs import build_network

from tiny_models import TINY_ARCH_CONFIGS
from loopback_server import checkpoint_bytes, closed_port_url, start_server, url

from basicsr_nafnet.data.download import CACHE_ENV
from basicsr_nafnet.inference import open_model
from basicsr_nafnet.inference.spec import ModelSpecError, parse_model_spec
from basicsr_nafnet.inference.zoo import ZOO_ENV, WeightsUnavailableError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = dict(TINY_ARCH_CONFIGS['NAFNetLocal'])


def _deblur_main():
    spec = importlib.util.spec_from_file_location('deblur_cli_zoo', os.path.join(ROOT, 'scripts', 'deblur.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A tiny NAFNetLocal served on 127.0.0.1 in mmagic's layout, a user zoo naming it, and a fresh cache."""
    net = build_network({'type': 'NAFNetLocal', **TINY})
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.1)
    ckpt = {'meta': {}, 'state_dict': {'generator.' + k: v for k, v in net.state_dict().items()}}
    httpd = start_server()
    httpd.files['/tiny.pth'] = checkpoint_bytes(ckpt, tmp_path)
    zoo_file = tmp_path / 'zoo.yml'
    zoo_file.write_text(yaml.safe_dump({'tiny-deblur': {
        'arch': 'NAFNetLocal', 'options': TINY,
        'sources': [{'url': url(httpd, '/tiny.pth'), 'layout': 'mmagic', 'filename': 'tiny.pth'}]}}))
    monkeypatch.setenv(ZOO_ENV, str(zoo_file))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / 'cache'))
    yield httpd, net.eval()
    httpd.shutdown()
    httpd.server_close()


def test_a_zoo_name_is_a_whole_model_spec(served):
    httpd, net = served
    opened = open_model('tiny-deblur')
    assert opened.spec.name == 'tiny-deblur' and opened.spec.network['type'] == 'NAFNetLocal'
    x = torch.rand(1, 3, 24, 20)
    with torch.no_grad():
        assert torch.allclose(opened.net(x), net(x), atol=1e-6)  # mmagic layout converted on load
    assert parse_model_spec('tiny-deblur').checkpoint == opened.spec.checkpoint
    assert [path for path, _ in httpd.requests] == ['/tiny.pth']  # downloaded once, then the cache


def test_a_url_after_the_arch(served):
    httpd, net = served
    args = ','.join(f'{k}={list(v) if isinstance(v, tuple) else v}' for k, v in TINY.items())
    opened = open_model(f"NAFNetLocal:{args}@{url(httpd, '/tiny.pth')}")
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(opened.net(x), net(x), atol=1e-6)


def test_a_zoo_name_as_the_checkpoint_of_a_dict_spec(served):
    _, net = served
    opened = open_model({'network': {'type': 'NAFNetLocal', **TINY}, 'checkpoint': 'tiny-deblur'})
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(opened.net(x), net(x), atol=1e-6)


def test_deblur_with_a_named_model_offline_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    zoo_file = tmp_path / 'zoo.yml'
    zoo_file.write_text(yaml.safe_dump({'NAFNet-GoPro-width32': {'sources': [closed_port_url('/w32.pth')]}}))
    monkeypatch.setenv(ZOO_ENV, str(zoo_file))  # the real entry, its source at a closed local port
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / 'cache'))
    photo = tmp_path / 'in.png'
    cv2.imwrite(str(photo), np.full((20, 24, 3), 128, np.uint8))
    out = tmp_path / 'out'
    start = time.monotonic()
    assert _deblur_main()(['--model', 'NAFNet-GoPro-width32', '-i', str(photo), '-o', str(out)]) == 2
    assert time.monotonic() - start < 10
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'NAFNet-GoPro-width32' in err and 'by hand' in err
    assert CACHE_ENV in err and 'Traceback' not in err
    assert not out.exists()


def test_unknown_names_still_get_the_spec_message():
    with pytest.raises(ModelSpecError, match='neither an option file'):
        parse_model_spec('NAFNet-GoPro-width33')


def test_offline_zoo_checkpoint_in_a_spec_is_a_user_error(tmp_path, monkeypatch):
    zoo_file = tmp_path / 'zoo.yml'
    zoo_file.write_text(yaml.safe_dump({'NAFNet-GoPro-width32': {'sources': [closed_port_url('/w32.pth')]}}))
    monkeypatch.setenv(ZOO_ENV, str(zoo_file))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / 'cache'))
    with pytest.raises(WeightsUnavailableError):
        parse_model_spec('NAFNet-GoPro-width32')
