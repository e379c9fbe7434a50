"""The installed commands: the ``basicsr-nafnet`` dispatcher, shipped option names for -opt, --threads."""
import importlib.util
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from basicsr_nafnet import commands
from basicsr_nafnet.cli import apply_threads
from basicsr_nafnet.errors import UserError
from basicsr_nafnet.engine.options import OptionsError, options_root, resolve_option_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INFERENCE_COMMANDS = ('deblur', 'leaderboard', 'compare', 'export')


def test_help_lists_every_command_with_one_line_each(capsys):
    assert commands.main(['--help']) == 0
    out = capsys.readouterr().out
    listed = [line.split()[0] for line in out.splitlines() if line.startswith('  ')]
    assert listed == list(commands.COMMANDS)
    for name in ('train', 'test', 'deblur', 'leaderboard', 'compare', 'export', 'prepare', 'synthetic', 'plot-curves',
                 'benchmark'):
        assert name in listed


def test_no_command_prints_the_list_and_exits_2(capsys):
    assert commands.main([]) == 2
    assert 'commands:' in capsys.readouterr().out


@pytest.mark.parametrize('name', list(commands.COMMANDS))
def test_every_command_runs_its_help_under_the_dispatcher_name(name, capsys):
    assert commands.main([name, '--help']) == 0
    assert capsys.readouterr().out.startswith(f'usage: basicsr-nafnet {name} ')


def test_unknown_command_is_one_line_exit_2():
    done = subprocess.run([sys.executable, '-m', 'basicsr_nafnet.commands', 'deblurr', '-i', 'x'], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stdout == ''
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown command 'deblurr'" in lines[0] and 'deblur, ' in lines[0]


def test_scripts_are_thin_wrappers_that_keep_their_names(capsys):
    spec = importlib.util.spec_from_file_location('deblur_script', os.path.join(ROOT, 'scripts', 'deblur.py'))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    from basicsr_nafnet.commands import deblur
    assert script.main is deblur.main
    assert script.main(['--help']) == 0
    assert capsys.readouterr().out.startswith('usage: deblur.py ')


# ------------------------------------------------------------------------------------------------ -opt NAME


@pytest.mark.parametrize('name,prefer,relative', [
    ('NAFNet-GoPro', 'train', 'NAFNet-GoPro.yml'),
    ('NAFNet-width32', 'train', 'train/GoPro/NAFNet-width32.yml'),
    ('NAFNet-width32', 'test', 'test/GoPro/NAFNet-width32.yml'),
    ('NAFNet-demo', 'train', 'demo/NAFNet-demo.yml'),
])
def test_shipped_option_names_resolve_to_their_file(name, prefer, relative):
    assert resolve_option_file(name, prefer) == os.path.join(options_root(), *relative.split('/'))


def test_option_paths_pass_through_unchanged(tmp_path):
    assert resolve_option_file('missing/NAFNet-GoPro.yml') == 'missing/NAFNet-GoPro.yml'  # load_options reports it
    local = tmp_path / 'NAFNet-GoPro'
    local.write_text('name: x\n')
    assert resolve_option_file(str(local)) == str(local)


def test_unknown_option_name_lists_the_known_ones():
    with pytest.raises(OptionsError) as err:
        resolve_option_file('NAFNet-GoPr0')
    message = str(err.value)
    assert message.startswith('-opt NAFNet-GoPr0: ') and 'NAFNet-GoPro, ' in message and '\n' not in message


@pytest.mark.parametrize('name,relative', [('train', 'NAFNet-GoPro.yml'), ('test', 'test/GoPro/NAFNet-width32.yml')])
def test_train_and_test_read_the_file_a_shipped_name_means(name, relative, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the file's data paths are missing here: the run stops at the check, naming the file
    option = 'NAFNet-GoPro' if name == 'train' else 'NAFNet-width32'
    assert commands.main([name, '-opt', option]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    path = os.path.join(options_root(), *relative.split('/'))
    assert len(err) == 1 and err[0].startswith(f'error: {path}: these paths do not exist')
    assert os.listdir(tmp_path) == []


def test_unknown_option_name_on_the_command_line_is_one_line(capsys):
    assert commands.main(['train', '-opt', 'NAFNet-GoPr0']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: -opt NAFNet-GoPr0: ') and 'known names: ' in err[0]


# ------------------------------------------------------------------------------------------------ --threads


@pytest.mark.parametrize('name', INFERENCE_COMMANDS)
@pytest.mark.parametrize('value', ['0', '-1', 'two'])
def test_threads_must_be_a_positive_integer(name, value, capsys):
    threads = torch.get_num_threads()
    argv = {'deblur': ['-i', 'in', '-o', 'out', '--model', 'M'], 'leaderboard': ['--data', 'D'],
            'compare': ['--data', 'D', '--model', 'M', '--out', 'out'], 'export': ['--model', 'M', '--out', 'x.onnx']}
    assert commands.main([name, *argv[name], '--threads', value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f'basicsr-nafnet {name}: error: argument --threads: ')
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize('name', INFERENCE_COMMANDS)
def test_threads_reaches_the_command_before_any_model_is_opened(name, tmp_path, monkeypatch, capsys):
    cv2.imwrite(str(tmp_path / 'in.png'), np.zeros((8, 8, 3), np.uint8))
    argv = {'deblur': ['-i', str(tmp_path / 'in.png'), '-o', str(tmp_path / 'out'), '--model', 'M'],
            'leaderboard': ['--data', 'D'], 'compare': ['--data', 'D', '--model', 'M', '--out', str(tmp_path / 'out')],
            'export': ['--model', 'M', '--out', str(tmp_path / 'x.onnx')]}[name]
    module = importlib.import_module(commands.COMMANDS[name][0])
    seen = []

    def record(threads):
        seen.append(threads)
        raise UserError('stopped by the test')

    monkeypatch.setattr(module, 'apply_threads', record)
    assert commands.main([name, *argv, '--threads', '3']) == 2
    assert seen == [3] and capsys.readouterr().err == 'error: stopped by the test\n'
    assert commands.main([name, *argv]) == 2
    assert seen == [3, None]


def test_apply_threads_sets_torch_threads_the_runtimes_default_to():
    before = torch.get_num_threads()
    try:
        apply_threads(1)
        assert torch.get_num_threads() == 1
        apply_threads(None)  # unchanged
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_our_warnings_are_one_line_others_keep_pythons_form():
    import warnings

    import basicsr_nafnet.engine.option_check as ours
    from basicsr_nafnet.cli import command

    shown = []

    @command()
    def main(argv=None):  # what Python prints for a warning is warnings.formatwarning's text
        shown.append(warnings.formatwarning('opt.yml: datasets.train.use_hfilp: unknown key, ignored', UserWarning,
                                            ours.__file__, 65))
        shown.append(warnings.formatwarning('a library speaking', UserWarning, torch.__file__, 7))

    assert main([]) == 0
    assert shown[0] == 'warning: opt.yml: datasets.train.use_hfilp: unknown key, ignored\n'
    assert shown[1].startswith(f'{torch.__file__}:7: UserWarning: a library speaking')
    assert ':65: UserWarning: x' in warnings.formatwarning('x', UserWarning, ours.__file__, 65)  # restored


@pytest.mark.parametrize('fault, status', [(UserError('opt.yml: bad key'), 2), (KeyboardInterrupt(), 130)])
def test_a_commands_last_line_is_one_write(fault, status, monkeypatch):
    """Ranks of one distributed run share stderr: a line written in two pieces (text, then newline) could be cut
    by another rank's line, which is how CI once saw ``error: ...error: ...`` on one line."""
    from basicsr_nafnet.cli import command

    writes = []

    class Recorder:
        def write(self, text):
            writes.append(text)

        def flush(self):
            pass

    monkeypatch.setattr(sys, 'stderr', Recorder())

    @command()
    def main(argv=None):
        raise fault

    assert main([]) == status
    assert len(writes) == 1 and writes[0].endswith('\n') and writes[0].count('\n') == 1, writes
    assert writes[0].startswith('error: opt.yml: bad key' if status == 2 else 'interrupted: ')
