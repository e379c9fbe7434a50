"""A zoo name or URL as an option file's path.pretrain_network_g, through BasicSR's test pipeline (test.py)."""
import os

import pytest
from basicsr.archs import build_network
from training_utils import make_paired_folders, tiny_options, write_options
from loopback_server import checkpoint_bytes, closed_port_url, start_server, url

import basicsr_nafnet.test as test_entry
from basicsr_nafnet.data.download import CACHE_ENV

NETWORK = {'type': 'NAFNet', 'width': 8, 'enc_blk_nums': [1, 1], 'middle_blk_num': 1, 'dec_blk_nums': [1, 1]}


def _test_options(tmp_path, checkpoint):
    data = make_paired_folders(str(tmp_path / 'data'))
    opt = tiny_options(data, name='zoo-test', network=dict(NETWORK))
    opt.pop('train')
    opt['datasets'] = {'test': dict(opt['datasets']['val'], name='tiny-test')}
    opt['path']['pretrain_network_g'] = checkpoint
    opt['val'].pop('val_freq')
    return write_options(opt, tmp_path / 'test.yml')


@pytest.fixture
def zoo_env(user_zoo, tmp_path, monkeypatch):
    """user_zoo, with a fresh cache and the test's folder as the working directory (results/ go there)."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / 'cache'))
    monkeypatch.chdir(tmp_path)
    return user_zoo


def test_a_zoo_name_in_pretrain_network_g_is_downloaded_then_tested(tmp_path, zoo_env):
    httpd = start_server()
    try:
        net = build_network(dict(NETWORK))
        httpd.files['/tiny.pth'] = checkpoint_bytes({'params': net.state_dict()}, tmp_path)
        zoo_env({'tiny-zoo': {'arch': 'NAFNet', 'options': {k: v for k, v in NETWORK.items() if k != 'type'},
                              'sources': [{'url': url(httpd, '/tiny.pth'), 'filename': 'tiny.pth'}]}})
        assert test_entry.main(['-opt', _test_options(tmp_path, 'tiny-zoo')]) in (None, 0)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert [path for path, _ in httpd.requests] == ['/tiny.pth']
    assert os.path.isfile(tmp_path / 'cache' / 'tiny.pth')
    assert os.path.isdir(tmp_path / 'results' / 'zoo-test')


def test_offline_zoo_name_in_an_option_file_is_one_line_and_creates_nothing(tmp_path, zoo_env, capsys):
    zoo_env({'NAFNet-GoPro-width32': {'sources': [closed_port_url('/w32.pth')]}})
    option_file = _test_options(tmp_path, 'NAFNet-GoPro-width32')
    assert test_entry.main(['-opt', option_file]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'NAFNet-GoPro-width32' in err and 'by hand' in err
    assert not (tmp_path / 'results').exists()
