"""The zoo table: every entry builds its arch and takes weights of its key layout; the user zoo file and its errors."""
import os
import subprocess
import sys

import pytest
import torch
import yaml
from basicsr.archs import build_network

from basicsr_nafnet.data.gdrive import confirm_url
from basicsr_nafnet.inference.zoo import ZOO, ZOO_ENV, ZooError, load_zoo, zoo_entry, zoo_help, zoo_names

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# parameter counts of the official GoPro NAFNets (shared/FACTS.md, measured on the official code)
OFFICIAL_PARAMS = {'NAFNet-GoPro-width32': 17.112e6, 'NAFNet-GoPro-width64': 67.889e6,
                   'NAFNet-REDS-width64': 67.889e6}


@pytest.mark.parametrize('name', list(ZOO))
def test_every_entry_builds_and_a_state_dict_of_its_shapes_loads_strictly(name):
    entry = zoo_entry(name)
    assert entry['arch'] in ('NAFNetLocal', 'BaselineLocal')  # full frames run with TLC, as the numbers were made
    assert tuple(entry['options']['train_size']) == (1, 3, 256, 256)
    with torch.device('meta'):
        net = build_network({'type': entry['arch'], **entry['options']})
        # the weights come from the plain arch (what training saves); TLC must not change a key or a shape
        plain = build_network({'type': entry['arch'][:-len('Local')],
                               **{k: v for k, v in entry['options'].items() if k != 'train_size'}})
    state = {k: torch.empty(v.shape, device='meta') for k, v in plain.state_dict().items()}
    assert net.load_state_dict(state, strict=True, assign=True) is not None
    if name in OFFICIAL_PARAMS:
        assert sum(v.numel() for v in state.values()) == pytest.approx(OFFICIAL_PARAMS[name], abs=1e3)


@pytest.mark.parametrize('name,option_file', [('NAFNet-GoPro-width32', 'NAFNet-width32.yml'),
                                              ('NAFNet-GoPro-width64', 'NAFNet-width64.yml'),
                                              ('Baseline-GoPro-width32', 'Baseline-width32.yml'),
                                              ('Baseline-GoPro-width64', 'Baseline-width64.yml')])
def test_gopro_entries_match_the_test_option_files(name, option_file):
    with open(os.path.join(ROOT, 'options', 'test', 'GoPro', option_file)) as f:
        network = yaml.safe_load(f)['network_g']
    options = {k: list(v) if isinstance(v, tuple) else v for k, v in zoo_entry(name)['options'].items()}
    assert network.pop('type') == zoo_entry(name)['arch']
    assert {k: v for k, v in options.items() if k != 'train_size'} == network


def test_entries_name_their_sources_numbers_and_keys():
    assert list(ZOO) == ['NAFNet-GoPro-width32', 'NAFNet-GoPro-width64', 'Baseline-GoPro-width32',
                         'Baseline-GoPro-width64', 'NAFNet-REDS-width64']
    for name, entry in ZOO.items():
        assert entry['weights_key'] == 'params' and entry['licence'] and entry['published']['source']
        first = entry['sources'][0]
        assert first['url'].startswith('https://drive.google.com/uc?') and first['filename'] == f'{name}.pth'
        assert first['layout'] == 'official' and first['sha256'] is None and first['size'] is None
    assert ZOO['NAFNet-GoPro-width64']['published']['psnr'] == 33.7103
    assert ZOO['NAFNet-GoPro-width64']['published']['ssim'] == 0.9668
    mirror = ZOO['NAFNet-GoPro-width64']['sources'][1]
    assert mirror['layout'] == 'mmagic' and mirror['url'].startswith('https://download.openmmlab.com/')
    assert '1S0PVRbyTakYY9a82kujgZLbMihfNBLfC' in ZOO['NAFNet-GoPro-width64']['sources'][0]['url']
    assert all(name in zoo_help() for name in ZOO)


def test_user_zoo_file_adds_and_overrides(tmp_path, monkeypatch):
    path = tmp_path / 'lab.yml'
    path.write_text(yaml.safe_dump({
        'NAFNet-GoPro-width64': {'sources': ['http://mirror.lab/NAFNet-GoPro-width64.pth']},
        'lab-NAFNet': {'arch': 'NAFNetLocal', 'options': {'width': 16}, 'sources': [{'drive': '1abcDEFghijKLmn'}]},
    }))
    monkeypatch.setenv(ZOO_ENV, str(path))
    assert zoo_names()[-1] == 'lab-NAFNet' and len(zoo_names()) == len(ZOO) + 1
    ours = zoo_entry('NAFNet-GoPro-width64')
    assert [s['url'] for s in ours['sources']] == ['http://mirror.lab/NAFNet-GoPro-width64.pth']
    assert ours['options']['width'] == 64 and ours['published']['psnr'] == 33.7103  # the rest stays ours
    lab = zoo_entry('lab-NAFNet')
    assert lab['sources'][0]['filename'] == 'lab-NAFNet.pth' and 'id=1abcDEFghijKLmn' in lab['sources'][0]['url']
    assert len(ZOO['NAFNet-GoPro-width64']['sources']) == 2  # the table itself is untouched


@pytest.mark.parametrize('content,expected', [
    ('[1, 2]', 'expected a mapping of model names'),
    ('a: [1', 'not valid YAML at line'),
    ('new: {options: {width: 8}}', 'new: a new entry needs arch'),
    ('NAFNet-GoPro-width32: {colour: red}', "NAFNet-GoPro-width32: unknown field 'colour'"),
    ('NAFNet-GoPro-width32: {sources: [ftp://x/y.pth]}', r'NAFNet-GoPro-width32.sources\[0\].url: expected an http'),
    ('NAFNet-GoPro-width32: {sources: [{url: "http://x/y.pth", sha256: abc}]}', r'sources\[0\].sha256: expected 64'),
    ('NAFNet-GoPro-width32: {sources: [{url: "http://x/y.pth", layout: keras}]}', r'sources\[0\].layout: expected'),
    ('NAFNet-GoPro-width32: {sources: [{url: "http://x/y.pth", filename: ../y.pth}]}', r'filename: expected a single'),
    ('NAFNet-GoPro-width32: {sources: [{url: "http://x/y.pth", size: -3}]}', r'sources\[0\].size: expected a posit'),
    ('NAFNet-GoPro-width32: {options: [1]}', 'NAFNet-GoPro-width32.options: expected a mapping'),
    ('"a b": {arch: NAFNet}', "'a b' is not a model name"),
])
def test_bad_user_zoo_files_give_one_line_naming_file_and_key(tmp_path, content, expected):
    path = tmp_path / 'bad.yml'
    path.write_text(content)
    with pytest.raises(ZooError, match=expected) as err:
        load_zoo(str(path))
    assert str(err.value).startswith(str(path)) and '\n' not in str(err.value)


def test_missing_zoo_file_and_unknown_name(tmp_path, monkeypatch):
    monkeypatch.setenv(ZOO_ENV, str(tmp_path / 'none.yml'))
    with pytest.raises(ZooError, match=f'none.yml \\(from {ZOO_ENV}\\): cannot read it'):
        zoo_names()
    monkeypatch.delenv(ZOO_ENV)
    with pytest.raises(ZooError, match="unknown model 'NAFNet-GoPro-width46'; did you mean NAFNet-GoPro-width64"):
        zoo_entry('NAFNet-GoPro-width46')


def test_importing_the_zoo_opens_no_connection():
    code = ('import socket\n'
            'def refuse(*a, **k): raise AssertionError("network at import")\n'
            'socket.socket.connect = socket.create_connection = socket.getaddrinfo = refuse\n'
            'import basicsr_nafnet.inference.zoo as z, basicsr_nafnet.inference.layouts\n'
            'print(len(z.load_zoo()))\n')
    out = subprocess.run([sys.executable, '-c', code], env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == str(len(ZOO)), out.stderr


@pytest.mark.parametrize('page,cookies,expected', [
    ('<form id="download-form" action="https://drive.usercontent.google.com/download" method="get">'
     '<input type="hidden" name="id" value="ID1"><input type="hidden" name="export" value="download">'
     '<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="u-1">'
     '<input type="submit" value="Download anyway"></form>', None,
     'https://drive.usercontent.google.com/download?id=ID1&export=download&confirm=t&uuid=u-1'),
    ('<a id="uc-download-link" href="/uc?export=download&amp;confirm=AbC1&amp;id=ID1">Download anyway</a>', None,
     'https://drive.google.com/uc?export=download&confirm=AbC1&id=ID1'),
    ('<html>no form</html>', {'download_warning_13058876669334088843_ID1': 'Zz9'},
     'https://drive.google.com/uc?export=download&id=ID1&confirm=Zz9'),
    ('<html><form action="/search"><input name="q" value=""></form>Quota exceeded</html>', None, None),
])
def test_confirm_url_reads_forms_links_and_cookies(page, cookies, expected):
    assert confirm_url(page, 'https://drive.google.com/uc?export=download&id=ID1', cookies) == expected
