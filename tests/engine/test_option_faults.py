"""Option faults of issue 24 item 5 that the bad-input table cannot show: a prefetch thread that fails, warnings for
unknown keys (and none for the shipped files), long values cut, num_gpu values that still run."""
import glob
import os
import signal
import warnings

import pytest
import torch

from basicsr_nafnet.cli import ArgumentParser, one_line, shorten
from basicsr_nafnet.engine.checks.keys import unknown_keys
from basicsr_nafnet.engine.option_check import warn_unknown_keys
from basicsr_nafnet.engine.options import (OptionsError, check_num_gpu, load_options, normalize_options,
                                           options_root)
from basicsr_nafnet.engine.prefetch import PrefetchLoader


class FailsAtThird(torch.utils.data.Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, index):
        if index == 2:
            raise ValueError('image 2 does not decode')
        return torch.full((1, ), float(index))


@pytest.fixture
def alarm():
    """Fail instead of hanging: BasicSR's prefetch thread died silently and left the loop waiting forever."""
    def on_alarm(signum, frame):
        raise TimeoutError('the loop waited for a thread that had died')

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_prefetch_thread_failure_reaches_the_loop(alarm):
    loader = PrefetchLoader(torch.utils.data.DataLoader(FailsAtThird(), batch_size=1), queue_size=1)
    got = []
    with pytest.raises(ValueError, match='image 2 does not decode'):
        for batch in loader:
            got.append(batch.item())
    assert got == [0.0, 1.0]


def test_prefetch_loader_yields_what_the_loader_yields(alarm):
    plain = torch.utils.data.DataLoader(torch.arange(7.0), batch_size=2, drop_last=True)
    loader = PrefetchLoader(plain, queue_size=3)
    assert len(loader) == 3 and loader.batch_size == 2
    assert [b.tolist() for b in loader] == [b.tolist() for b in plain]
    assert [b.tolist() for b in loader] == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]  # and again: a fresh thread


def _shipped():
    return sorted(glob.glob(os.path.join(options_root(), '**', '*.yml'), recursive=True))


def test_the_shipped_option_files_have_no_unknown_key():
    assert len(_shipped()) >= 20
    for path in _shipped():
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            opt = normalize_options(load_options(path), path)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            warn_unknown_keys(opt, path)
        assert not caught, f'{path}: {[str(w.message) for w in caught]}'


def test_misspelled_keys_are_named_with_the_nearest_known_key():
    opt = {'name': 'x', 'manual_sed': 1, 'train': {'total_iters': 5, 'optim_g': {}},
           'datasets': {'train': {'type': 'PairedImageDataset', 'use_hfilp': True, 'gt_size': 8},
                        'other': {'type': 'SomeoneElsesDataset', 'own_key': 1}},
           'val': {'val_frq': 2}, 'logger': {'print_freq': 1, 'wandb': {'projet': 'p'}}, 'my_note': 'mine'}
    assert unknown_keys(opt) == [('manual_sed', 'manual_seed'), ('my_note', None), ('train.total_iters', 'total_iter'),
                                 ('val.val_frq', 'val_freq'), ('logger.wandb.projet', 'project'),
                                 ('datasets.train.use_hfilp', 'use_hflip')]
    with pytest.warns(UserWarning, match=r'opt.yml: datasets.train.use_hfilp: unknown key, ignored; did you mean '
                      r'use_hflip\?'):
        warn_unknown_keys(opt, 'opt.yml')


def test_long_values_are_cut_in_error_lines():
    line = one_line(f"train.total_iter: expected an integer, got '{'x' * 100_000}'")
    assert line.startswith("train.total_iter: expected an integer, got 'xxxx")
    assert line.endswith('... (100002 characters)') and len(line) < 200
    assert shorten('a short /path/to/file.png') == 'a short /path/to/file.png'
    many = shorten('word ' * 1000)
    assert len(many) < 2100 and many.endswith('(5000 characters in all)')


def test_an_empty_argument_is_refused_unless_empty_is_its_default(capsys):
    parser = ArgumentParser(prog='p')
    parser.add_argument('-o', '--output', default=None)
    parser.add_argument('--suffix', default='')
    assert parser.parse_args(['--suffix', '', '-o', 'out']).suffix == ''
    with pytest.raises(SystemExit) as stop:
        parser.parse_args(['-o', ''])
    assert stop.value.code == 2
    assert 'argument -o/--output: an empty value' in capsys.readouterr().err


@pytest.mark.parametrize('value', ['auto', 0, 1, 8])
def test_num_gpu_values_that_run(value):
    assert check_num_gpu(value, 'f.yml') == value


@pytest.mark.parametrize('value', [-1, 'x', 0.5, 2.0, True, 10 ** 18, None, [1]])
def test_num_gpu_values_refused_by_key(value):
    with pytest.raises(OptionsError, match='f.yml: num_gpu: expected auto or a whole number'):
        check_num_gpu(value, 'f.yml')
