"""Timing and memory primitives of the benchmarks: interleaved medians, peak memory, the matmul yardstick.

Timing: the functions are interleaved (A, B, C, A, B, C, ...) after one warm-up call each, and the median
is reported, so a burst of load from other processes hits every function alike; compare the ratios, which
come from one run, rather than absolute times across runs.

Peak memory: on CUDA, ``torch.cuda.max_memory_allocated`` above what was allocated before the call. On the
CPU, PyTorch has no allocator statistics, so one extra call runs under ``torch.profiler`` with
``profile_memory=True``; the peak is the maximum of the running sum of its allocation and free events, i.e.
the most bytes PyTorch's CPU allocator held at once during the call on top of what was held before
(weights, input). Buffers oneDNN or MKL allocate internally are not included.
"""
import os
import statistics
import time

import torch

from ..inference import synchronize
from ..inference.timing import machine_description, time_interleaved

__all__ = [
    'PEAK_MEMORY_METHOD', 'machine_description', 'matmul_gflops', 'peak_memory', 'time_interleaved',
    'time_guarding_slow'
]

PEAK_MEMORY_METHOD = {
    'cpu': 'torch.profiler allocation events: most bytes held by the PyTorch CPU allocator during the call, '
           'on top of what was held before (oneDNN/MKL internal buffers not included)',
    'cuda': 'torch.cuda.max_memory_allocated during the call minus memory_allocated before it',
}


def matmul_gflops(device, dtype, n=2048, runs=3, budget_s=2.0):
    """Median GFLOP/s (2 n^3 per product) of an n x n matmul in ``dtype``: the hardware's reachable rate.

    Where one n x n product would take longer than ``budget_s`` (bf16 on a CPU without native bf16
    runs at well under 1 GFLOP/s), the rate measured on 512 x 512 is returned instead.
    """
    if n > 512:
        probe = matmul_gflops(device, dtype, n=512, runs=1)
        if 2 * n**3 / (probe * 1e9) > budget_s:
            return probe
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    a @ b
    times = []
    for _ in range(runs):
        synchronize(device)
        start = time.perf_counter()
        a @ b
        synchronize(device)
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times) / 1e9


def _cpu_peak_from_profiler(prof):
    from torch._C._profiler import _EventType
    allocations = []
    stack = list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        node = stack.pop()
        if node.tag == _EventType.Allocation and node.extra_fields.device.type == 'cpu':
            allocations.append((node.start_time_ns, node.extra_fields.alloc_size))
        stack.extend(node.children)
    current = peak = 0
    for _, size in sorted(allocations):
        current += size
        peak = max(peak, current)
    return peak


def peak_memory(fn, device):
    """Peak bytes allocated during ``fn()`` on top of what was allocated before (see the module docstring).

    Returns:
        int | None: Bytes, or None where the CPU profiler's allocation events are unavailable.
    """
    if device.type == 'cuda':
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    # Kineto prints its start/stop markers and a CUDA probe error to stderr on every profiled call; above
    # level 5 it is quiet. A value the user set wins.
    os.environ.setdefault('KINETO_LOG_LEVEL', '6')
    from torch.profiler import ProfilerActivity, profile
    try:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            fn()
        return _cpu_peak_from_profiler(prof)
    except (AttributeError, ImportError, RuntimeError):  # private profiler API moved: report no number
        return None


def _timed_first_calls(fns, device):
    """Seconds of one call of each function (the warm-up) and its return value."""
    seconds, values = {}, {}
    for name, fn in fns.items():
        synchronize(device)
        start = time.perf_counter()
        values[name] = fn()
        synchronize(device)
        seconds[name] = time.perf_counter() - start
    return seconds, values


def _split_slow(first_seconds, reference, slow_factor):
    """Names whose first call took more than ``slow_factor`` times the reference's first call."""
    if not slow_factor or reference not in first_seconds:
        return set()
    limit = slow_factor * first_seconds[reference]
    return {name for name, sec in first_seconds.items() if name != reference and sec > limit}


def time_guarding_slow(fns, reference, runs, device, desc, slow_factor):
    """:func:`time_interleaved` after one timed warm-up call each; the slow ones keep that call as their time.

    Returns:
        tuple: Median seconds per function, the set of slow names (see :func:`_split_slow`) and
        each function's warm-up return value.
    """
    first, values = _timed_first_calls(fns, device)
    slow = _split_slow(first, reference, slow_factor)
    seconds = time_interleaved({n: fn for n, fn in fns.items() if n not in slow}, runs, device, desc=desc,
                               warmup=False)
    seconds.update({n: first[n] for n in slow})
    return seconds, slow, values
