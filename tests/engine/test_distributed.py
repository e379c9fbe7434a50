"""Two CPU ranks through BasicSR's launchers: torchrun (--launcher pytorch) and slurm (--launcher slurm), gloo.

One torchrun run in ``channels_last`` (the demo's layout) is shared: its ranks end with identical weights,
reduce the validation metrics, and saw no "Grad strides do not match bucket view strides" warning; two slurm
tasks started with SLURM_* variables and a stand-in ``scontrol`` end with the same weights, bit for bit.
"""
import json
import os
import socket
import stat
import subprocess
import sys
import warnings

import cv2
import numpy as np
import pytest
import torch
import torch.distributed as dist
from basicsr.archs import build_network
from basicsr.metrics import calculate_psnr
from basicsr.utils import img2tensor, tensor2img
from tiny_models import TINY_ARCH_CONFIGS
from torch.nn.parallel import DistributedDataParallel
from training_utils import make_paired_folders, tiny_options, write_options

from basicsr_nafnet.engine.dist import check_launcher_environment
from basicsr_nafnet.errors import UserError
from basicsr_nafnet.models.channels_last import to_channels_last

TESTS_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # where the shared helpers live
WORKER = os.path.join(TESTS_ROOT, 'ddp_worker.py')
BUCKET_WARNING = 'Grad strides do not match bucket view strides'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def read_rank(folder, rank):
    report = json.loads((folder / f'rank{rank}.json').read_text())
    return report, torch.load(folder / f'rank{rank}.pth', weights_only=True)


@pytest.fixture(scope='module')
def torchrun_run(tmp_path_factory):
    """Two ranks under torchrun on the tiny data, channels_last, 4 iterations; returns the run's folder and files."""
    root = tmp_path_factory.mktemp('ddp')
    data = make_paired_folders(str(root / 'data'), n_train=8, n_val=3)  # 3 val images: uneven split
    opt = tiny_options(data, name='ddp', total_iter=4)
    opt['datasets']['train']['num_worker_per_gpu'] = 1
    opt['train']['channels_last'] = True
    opt_path = write_options(opt, root / 'opt.yml')
    run = root / 'torchrun'
    run.mkdir()
    env = dict(os.environ, OMP_NUM_THREADS='1', MASTER_ADDR='127.0.0.1')
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2', f'--master_port={free_port()}',
           WORKER, '-opt', opt_path, '--launcher', 'pytorch']
    done = subprocess.run(cmd, cwd=run, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return dict(root=root, run=run, data=data, opt=opt, opt_path=opt_path)


def test_two_cpu_ranks_train_identically_and_reduce_validation(torchrun_run):
    (r0, w0), (r1, w1) = (read_rank(torchrun_run['run'], r) for r in range(2))
    assert [r0['backend'], r1['backend']] == ['gloo', 'gloo']
    for key in w0:
        assert torch.equal(w0[key], w1[key]), key
    assert r0['metrics'] == r1['metrics']

    # the reduced PSNR is the mean over all 3 images, recomputed here in one process
    data = torchrun_run['data']
    net = build_network(torchrun_run['opt']['network_g'])
    net.load_state_dict(w0)
    net.eval()
    psnrs = []
    for name in sorted(os.listdir(f'{data}/val/blur')):
        blur = img2tensor(cv2.imread(f'{data}/val/blur/{name}').astype(np.float32) / 255.0)
        sharp = cv2.imread(f'{data}/val/sharp/{name}')
        with torch.no_grad():
            restored = tensor2img([net(blur[None])])
        psnrs.append(calculate_psnr(restored, sharp, 0))
    assert abs(r0['metrics']['psnr'] - float(np.mean(psnrs))) < 1e-6


def test_a_metric_failing_on_one_rank_stops_every_rank_in_one_line(tmp_path):
    data = make_paired_folders(str(tmp_path / 'data'), n_train=8, n_val=3)  # rank 1 validates image 001 alone
    opt = tiny_options(data, name='ddp-metric', total_iter=4, logger__save_checkpoint_freq=2, val__val_freq=2)
    opt_path = write_options(opt, tmp_path / 'opt.yml')
    env = dict(os.environ, OMP_NUM_THREADS='1', MASTER_ADDR='127.0.0.1', FAIL_METRIC_ON_RANK='1')
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2', f'--master_port={free_port()}',
           WORKER, '-opt', opt_path, '--launcher', 'pytorch']
    # before the fix rank 0 waited in all_reduce for gloo's 30-minute timeout: the timeout here fails the test
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out[-3000:]
    lines = [line for line in out.splitlines() if line.startswith('error: ')]
    assert len(lines) == 2, out[-3000:]
    assert any('val.metrics.psnr (calculate_psnr) on 001 failed (ZeroDivisionError: division by zero)' in line
               for line in lines), lines
    assert any('validation of tiny-val failed on rank 1' in line and 'rank 0 stopped with it' in line
               for line in lines), lines
    assert all('--auto_resume' in line for line in lines), lines
    # no rank printed a traceback (torchrun prints its own, of its ChildFailedError, which names neither)
    assert out.count('ZeroDivisionError') == 1 and 'RunFailed' not in out, out[-3000:]
    assert (tmp_path / 'experiments' / 'ddp-metric' / 'training_states' / '2.state').exists()


def test_channels_last_ddp_ranks_see_no_bucket_stride_warning(torchrun_run):
    for rank in range(2):
        report, weights = read_rank(torchrun_run['run'], rank)
        assert weights['intro.weight'].is_contiguous(memory_format=torch.channels_last)  # it trained channels_last
        assert not weights['intro.weight'].is_contiguous()
        assert not [w for w in report['warnings'] if BUCKET_WARNING in w], report['warnings']


def test_channels_last_parameters_have_their_gradients_strides():
    """What DDP's buckets need, for every arch: each gradient arrives with its parameter's strides.

    ``net.to(memory_format=channels_last)`` does not give that (beta/gamma); :func:`to_channels_last` does.
    """
    for name, config in TINY_ARCH_CONFIGS.items():
        for convert in ('plain', 'ours'):
            torch.manual_seed(0)
            net = build_network({'type': name, **config})
            net = to_channels_last(net) if convert == 'ours' else net.to(memory_format=torch.channels_last)
            x = torch.rand(2, 3, 24, 24).contiguous(memory_format=torch.channels_last)
            net(x).square().mean().backward()
            mismatched = [n for n, p in net.named_parameters() if p.grad.stride() != p.stride()]
            if convert == 'ours':
                assert not mismatched, (name, mismatched)
            elif name.startswith(('NAFNet', 'Baseline')):
                assert 'intro.weight' not in mismatched and any(n.endswith('beta') for n in mismatched), mismatched


def test_ddp_bucket_warning_is_caught_in_process_and_absent_with_our_layout():
    """One gloo rank in this process: the warning shows for the plain conversion, never for ours.

    PyTorch raises it once per process, so ours runs first: a warning there would fail this test.
    """
    dist.init_process_group('gloo', store=dist.HashStore(), rank=0, world_size=1)
    try:
        seen = {}
        for convert in ('ours', 'plain'):
            torch.manual_seed(0)
            net = build_network({'type': 'NAFNet', **TINY_ARCH_CONFIGS['NAFNet']})
            net = to_channels_last(net) if convert == 'ours' else net.to(memory_format=torch.channels_last)
            ddp = DistributedDataParallel(net)
            x = torch.rand(2, 3, 16, 16).contiguous(memory_format=torch.channels_last)
            with warnings.catch_warnings(record=True) as record:
                warnings.simplefilter('always')
                ddp(x).square().mean().backward()
            seen[convert] = [str(w.message) for w in record if BUCKET_WARNING in str(w.message)]
    finally:
        dist.destroy_process_group()
    assert seen['ours'] == []
    assert len(seen['plain']) == 1


def make_scontrol(folder, hosts):
    """A stand-in ``scontrol`` that records its arguments and prints ``hosts``, one per line, as slurm's does."""
    folder.mkdir(exist_ok=True)
    path = folder / 'scontrol'
    path.write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/calls.txt"\n' +
                    ''.join(f'echo {host}\n' for host in hosts))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return folder


def slurm_env(rank, tasks, bin_dir, **extra):
    launched = ('SLURM_', 'MASTER_', 'RANK', 'LOCAL_RANK', 'WORLD_SIZE')  # none may leak in from this process
    env = {k: v for k, v in os.environ.items() if not k.startswith(launched)}
    env.update(OMP_NUM_THREADS='1', SLURM_PROCID=str(rank), SLURM_NTASKS=str(tasks), SLURM_LOCALID=str(rank),
               SLURM_NODELIST='node[07-08]', PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", **extra)
    return env


def test_slurm_tasks_end_with_the_torchrun_weights(torchrun_run):
    root = torchrun_run['root']
    bin_dir = make_scontrol(root / 'bin', ['localhost', 'node08'])
    run = root / 'slurm'
    run.mkdir()
    port = str(free_port())
    procs = [subprocess.Popen([sys.executable, WORKER, '-opt', torchrun_run['opt_path'], '--launcher', 'slurm'],
                              cwd=run, env=slurm_env(rank, 2, bin_dir, MASTER_PORT=port), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for rank in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs[0][1][-3000:] + outputs[1][1][-3000:]
    assert (bin_dir / 'calls.txt').read_text().splitlines() == ['show hostnames node[07-08]'] * 2
    _, reference = read_rank(torchrun_run['run'], 0)
    for rank in range(2):
        report, weights = read_rank(run, rank)
        assert (report['backend'], report['world_size'], report['master_addr']) == ('gloo', 2, 'localhost')
        assert weights.keys() == reference.keys()
        for key in reference:
            assert torch.equal(weights[key], reference[key]), key
        assert not [w for w in report['warnings'] if BUCKET_WARNING in w]


@pytest.mark.parametrize('env,message', [
    (dict(SLURM_PROCID='0', SLURM_NTASKS='2'), 'SLURM_NODELIST not set'),
    (dict(SLURM_PROCID='x', SLURM_NTASKS='2', SLURM_NODELIST='n1'), "SLURM_PROCID='x' is not a number"),
    (dict(SLURM_PROCID='2', SLURM_NTASKS='2', SLURM_NODELIST='n1'), 'SLURM_PROCID=2 is not a task of SLURM_NTASKS=2'),
    (dict(SLURM_PROCID='0', SLURM_NTASKS='2', SLURM_LOCALID='', SLURM_NODELIST='n1'), "SLURM_LOCALID='' is not a"),
    (dict(SLURM_PROCID='0', SLURM_NTASKS='2', SLURM_NODELIST='n1'), 'scontrol is not on PATH'),
])
def test_slurm_environment_is_checked_before_anything_starts(env, message, monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith(('SLURM_', 'MASTER_')):
            monkeypatch.delenv(key)
    monkeypatch.setenv('PATH', str(tmp_path))  # no scontrol here
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(UserError, match=message):
        check_launcher_environment('slurm')


def test_slurm_with_a_master_address_needs_no_node_list_or_scontrol(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith(('SLURM_', 'MASTER_')):
            monkeypatch.delenv(key)
    monkeypatch.setenv('PATH', str(tmp_path))
    for key, value in dict(SLURM_PROCID='1', SLURM_NTASKS='2', MASTER_ADDR='node01').items():
        monkeypatch.setenv(key, value)
    check_launcher_environment('slurm')  # no error


def test_a_failing_scontrol_is_one_clear_error(monkeypatch, tmp_path):
    from basicsr_nafnet.engine.dist import _first_slurm_host
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'scontrol').write_text('#!/bin/sh\necho "scontrol: error: Invalid hostlist: $3" >&2\nexit 1\n')
    (bin_dir / 'scontrol').chmod(0o755)
    path = os.environ['PATH']
    monkeypatch.setenv('PATH', f'{bin_dir}{os.pathsep}{path}')
    with pytest.raises(UserError, match=r"scontrol show hostnames n\[1' failed \(scontrol: error: Invalid hostlist"):
        _first_slurm_host('n[1')
    monkeypatch.setenv('PATH', f"{make_scontrol(tmp_path / 'ok', ['gpu01', 'gpu02'])}{os.pathsep}{path}")
    assert _first_slurm_host('gpu[01-02]') == 'gpu01'
