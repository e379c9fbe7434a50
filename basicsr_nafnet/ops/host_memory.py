"""Freed host memory kept for reuse while a network runs on the CPU (glibc's ``mallopt``).

A forward pass at 1280x720 allocates and frees dozens of feature maps of 100-250 MB. glibc serves blocks that
large with ``mmap`` and returns them to the kernel on ``free``, so every new feature map is fresh pages, and
touching them for the first time (a page fault per 4 KB page) costs more than the arithmetic: a copy of a 236 MB
tensor ran at 7 GB/s, and at 25 GB/s once freed memory was reused (2-core Sapphire Rapids Xeon, docs/speed.md).
:func:`reused_host_memory` turns ``mmap`` off and trimming of the heap's top up for the duration of a block, so a
feature map lands in memory the previous one freed. Results are unchanged (only where memory comes from changes).

Only while the block runs: outside it glibc's limits are back (from then on fixed rather than adapting, which is
what setting them does), and the free memory the block kept goes back to the kernel as it ends (``malloc_trim``:
after a 1280x720 call the resident set was 967 MB with it and 1.6 GB without, at no measurable cost in time).
Left alone where glibc is not the allocator, and where the user set any ``MALLOC_*`` variable or ``glibc.malloc``
tunable (their choice of allocator settings wins).
"""
import contextlib
import ctypes
import ctypes.util
import os
import threading

__all__ = ['reused_host_memory', 'can_reuse_host_memory']

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
# glibc's defaults, restored on the way out
_DEFAULT_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 128 * 1024, 65536
_KEEP_TRIM_THRESHOLD = 2 ** 31 - 1  # the largest int: up to 2 GB free at the heap's top is kept

_lock = threading.Lock()
_depth = 0
_mallopt = None
_malloc_trim = None


def _find_mallopt():
    """glibc's ``mallopt``, or False (another C library: musl and macOS have no ``gnu_get_libc_version``)."""
    global _mallopt, _malloc_trim
    if _mallopt is None:
        _mallopt = False
        name = ctypes.util.find_library('c') if os.name == 'posix' else None
        try:
            libc = ctypes.CDLL(name) if name else None
        except OSError:
            libc = None
        if libc is not None and hasattr(libc, 'gnu_get_libc_version') and hasattr(libc, 'mallopt'):
            libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            _mallopt = libc.mallopt
            _malloc_trim = getattr(libc, 'malloc_trim', None)
    return _mallopt


def can_reuse_host_memory():
    """Whether :func:`reused_host_memory` changes anything here (glibc, no ``MALLOC_*`` or ``glibc.malloc``
    tunable of the user's)."""
    if any(key.startswith('MALLOC_') for key in os.environ) or 'glibc.malloc' in os.environ.get('GLIBC_TUNABLES', ''):
        return False
    return bool(_find_mallopt())


@contextlib.contextmanager
def reused_host_memory():
    """Within the block, memory freed by the process is kept and reused instead of returned to the kernel.

    Nested and concurrent blocks share one setting: the first in sets it, the last out restores it.
    """
    global _depth
    mallopt = _find_mallopt() if can_reuse_host_memory() else None
    if not mallopt:
        yield
        return
    with _lock:
        if _depth == 0:
            mallopt(_M_MMAP_MAX, 0)
            mallopt(_M_TRIM_THRESHOLD, _KEEP_TRIM_THRESHOLD)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
                mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
                if _malloc_trim is not None:  # what the block kept goes back now, also from the heap's middle
                    _malloc_trim(0)
