"""ONNX Runtime and OpenVINO as benchmark paths: the arch exported once, the runners, and their peak memory.

The network is exported (:func:`~basicsr_nafnet.inference.export.export_onnx`, fused, dynamic sizes) once per arch
into a temporary folder and run by both runtimes with the threads PyTorch uses, float32
(:mod:`basicsr_nafnet.inference.runtimes`). Their time is measured like every other path (interleaved medians).

Memory: the runtimes allocate outside PyTorch, so the profiler that measures the PyTorch paths sees none of it.
Their peak is the growth of the process's resident set during the first call of a freshly loaded session: the
kernel's peak-RSS mark is reset (``/proc/self/clear_refs``) after the session is loaded and freed heap memory is
handed back (``malloc_trim``), then ``VmHWM`` after the call minus ``VmRSS`` before it. That counts the runtime's
arenas, scratch buffers and the output, not the weights; it is a lower bound where the allocator reuses memory the
process already held, and needs Linux (elsewhere: not reported).
"""
import ctypes
import gc
import os
import time

from ..inference.export import export_onnx
from ..inference.runtimes import RUNTIMES, deploy_packages_missing, make_runtime_runner, require

__all__ = ['RUNTIME_PATHS', 'RSS_METHOD', 'available_runtime_paths', 'export_for_benchmark', 'runtime_versions',
           'runtime_peak_memory']

RUNTIME_PATHS = RUNTIMES
RSS_METHOD = ('runtimes (RSS): growth of the resident set during the first call of a freshly loaded session '
              '(VmHWM after it minus VmRSS before it, peak mark reset after loading, free heap returned first): '
              "the runtime's arenas, scratch and output, not the weights; a lower bound where freed memory is reused")


def available_runtime_paths(paths):
    """``(kept, dropped)``: the runtime paths among ``paths`` whose packages are installed, and the others."""
    needed = {'onnxruntime': ('onnx', 'onnxscript', 'onnxruntime'), 'openvino': ('onnx', 'onnxscript', 'openvino')}
    dropped = [p for p in paths if p in needed and deploy_packages_missing(needed[p])]
    return [p for p in paths if p not in dropped], dropped


def runtime_versions(paths):
    """``{runtime: version}`` of the runtime packages among ``paths``."""
    return {p: getattr(require(p, f'the {p} benchmark path'), '__version__', '?') for p in paths if p in RUNTIME_PATHS}


def export_for_benchmark(net, folder, name):
    """Export ``net`` to ``folder/<name>.onnx`` (fused, dynamic sizes); returns the path and the seconds it took."""
    path = os.path.join(folder, f'{name}.onnx')
    start = time.perf_counter()
    export_onnx(net, path, name=name)
    return path, time.perf_counter() - start


def _status_kib():
    values = {}
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(('VmRSS:', 'VmHWM:')):
                key, value = line.split(':', 1)
                values[key] = int(value.split()[0])
    return values


def _release_free_heap():
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the growth may read lower
        pass


def runtime_peak_memory(path, runtime, x):
    """Peak RSS growth in bytes during the first call of a fresh ``runtime`` session on ``x`` (None off Linux)."""
    runner = make_runtime_runner(path, runtime, key='benchmark export')
    gc.collect()
    _release_free_heap()
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # resets VmHWM to the current RSS
        before = _status_kib()['VmRSS']
    except (OSError, KeyError):
        return None
    runner(x)
    return max(0, _status_kib()['VmHWM'] - before) * 1024
