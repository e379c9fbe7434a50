"""Timing on the user's machine: what it is, and interleaved medians of a few calls.

The runtime choice (:mod:`~basicsr_nafnet.inference.runtime_choice`) and the benchmarks (:mod:`basicsr_nafnet.bench`)
time the same way: the functions are interleaved (A, B, C, A, B, C, ...) after one warm-up call each and the median
is kept, so a burst of load from other processes hits every function alike.
"""
import platform
import statistics
import time

import torch
from tqdm import tqdm

from .paths import synchronize

__all__ = ['cpu_model_name', 'machine_description', 'time_interleaved']


def cpu_model_name():
    """The CPU's model name as ``lscpu`` shows it (``/proc/cpuinfo``), else ``platform.processor()``."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


def machine_description(device):
    """A one-line description of the CPU (lscpu model name) or GPU, with thread count and torch version."""
    if device.type == 'cuda':
        name = torch.cuda.get_device_name(device)
    else:
        name = f'{cpu_model_name()}, {torch.backends.cpu.get_cpu_capability()}'
    return f'{name}; torch {torch.__version__}; {torch.get_num_threads()} threads'


def time_interleaved(fns, runs, device, desc='timing', warmup=True):
    """Median seconds per call of each zero-argument function; calls interleaved after a warm-up each.

    Args:
        fns (dict[str, callable]): Functions to time.
        runs (int): Timed calls per function (after one warm-up call).
        device (torch.device): Synchronised around every call on CUDA.
        desc (str): Progress-bar label.
        warmup (bool): Make the warm-up calls; False when the caller has just called each function.

    Returns:
        dict[str, float]: Median seconds per function.
    """
    if warmup:
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in tqdm(range(runs), desc=desc, leave=False):
        for name, fn in fns.items():
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}
