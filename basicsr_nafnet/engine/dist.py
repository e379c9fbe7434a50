"""Distributed set-up for BasicSR's launchers that also works on CPU-only machines.

BasicSR 1.4.2's ``init_dist`` always uses NCCL, calls ``torch.cuda.set_device(rank % device_count())``
(a ZeroDivisionError without GPUs) with the global ``RANK`` instead of ``LOCAL_RANK``, and sets the
``spawn`` start method, which makes every DataLoader worker re-import torch each epoch. Here the
backend follows the hardware (NCCL with CUDA, gloo without), the device is picked by local rank,
and the start method is left to the platform.
"""
import os
import shutil
import subprocess
import warnings

import torch
import torch.distributed as dist

from ..errors import UserError, one_line

__all__ = ['init_dist', 'default_backend', 'check_launcher_environment']


def default_backend():
    return 'nccl' if torch.cuda.is_available() else 'gloo'


def init_dist(launcher, backend=None, port=None, **kwargs):
    """Join the process group started by ``torchrun`` (launcher 'pytorch') or by slurm ('slurm').

    Args:
        launcher (str): 'pytorch' or 'slurm'.
        backend (str, optional): Process-group backend; default NCCL with CUDA, gloo without. NCCL
            asked for on a machine without CUDA falls back to gloo with a warning.
        port (int, optional): Master port for slurm; default ``MASTER_PORT`` or 29500.
    """
    if backend is None:
        backend = default_backend()
    elif backend == 'nccl' and not torch.cuda.is_available():
        warnings.warn('dist_params.backend is nccl but CUDA is not available: using gloo')
        backend = 'gloo'
    if launcher == 'slurm':
        _slurm_environment(port)
    elif launcher != 'pytorch':
        raise ValueError(f"unknown launcher '{launcher}'; choose none, pytorch or slurm")
    if backend == 'nccl':
        torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', 0)) % torch.cuda.device_count())
    dist.init_process_group(backend=backend, **kwargs)


def _slurm_environment(port):
    """Export what ``init_process_group``'s env:// method reads, from slurm's variables."""
    proc_id = int(os.environ['SLURM_PROCID'])
    ntasks = int(os.environ['SLURM_NTASKS'])
    local_id = int(os.environ.get('SLURM_LOCALID', proc_id % max(1, torch.cuda.device_count())))
    if 'MASTER_ADDR' not in os.environ:
        os.environ['MASTER_ADDR'] = _first_slurm_host(os.environ['SLURM_NODELIST'])
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ.update(WORLD_SIZE=str(ntasks), RANK=str(proc_id), LOCAL_RANK=str(local_id))


def _first_slurm_host(node_list):
    """The first host of a slurm node list ('gpu[01-04]'), as BasicSR's slurm set-up asks ``scontrol`` for it."""
    command = ['scontrol', 'show', 'hostnames', node_list]
    try:
        hosts = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout.split()
    except (OSError, subprocess.SubprocessError) as err:
        detail = getattr(err, 'stderr', None) or str(err)
        raise UserError(f"--launcher slurm: '{' '.join(command)}' failed ({one_line(detail)}); set "
                        'MASTER_ADDR to the first node of the job instead') from None
    if not hosts:
        raise UserError(f"--launcher slurm: '{' '.join(command)}' printed no host name; set MASTER_ADDR instead")
    return hosts[0]


# what init_process_group's env:// method needs from each launcher
_LAUNCHER_ENV = {'pytorch': ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'),
                 'slurm': ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST')}


def check_launcher_environment(launcher):
    """Raise a clear error when the variables a launcher sets are missing (the job was not started by it).

    Raises:
        UserError: Naming the launcher, the missing variables and how to start the job.
    """
    needed = _LAUNCHER_ENV.get(launcher)
    if needed is None:
        raise UserError(f"--launcher {launcher}: unknown; choose none, pytorch or slurm")
    missing = [name for name in needed if name not in os.environ]
    if launcher == 'slurm' and 'MASTER_ADDR' in os.environ:
        missing = [name for name in missing if name != 'SLURM_NODELIST']
    if missing:
        how = ('start it with torchrun --nproc_per_node=N basicsr_nafnet/train.py ... --launcher pytorch'
               if launcher == 'pytorch' else 'start it with srun inside a slurm allocation')
        raise UserError(f"--launcher {launcher}: {', '.join(missing)} not set, so this process was not started by "
                        f'the launcher; {how} (or use --launcher none)')
    if launcher == 'slurm':
        _check_slurm_environment()


def _check_slurm_environment():
    """Task numbers that make a process group, and a way to find the master's address."""
    numbers = {}
    for name in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID'):
        if name in os.environ:
            try:
                numbers[name] = int(os.environ[name])
            except ValueError:
                raise UserError(f'--launcher slurm: {name}={os.environ[name]!r} is not a number') from None
    rank, tasks = numbers['SLURM_PROCID'], numbers['SLURM_NTASKS']
    if tasks < 1 or not 0 <= rank < tasks:
        raise UserError(f'--launcher slurm: SLURM_PROCID={rank} is not a task of SLURM_NTASKS={tasks}')
    if 'MASTER_ADDR' not in os.environ and shutil.which('scontrol') is None:
        raise UserError('--launcher slurm: scontrol is not on PATH, so the first node of SLURM_NODELIST cannot be '
                        'looked up; run inside the slurm allocation, or set MASTER_ADDR to that node')
