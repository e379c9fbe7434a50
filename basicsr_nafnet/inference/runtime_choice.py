"""``--runtime auto``: the fastest exact runtime for this machine, model and image size, measured once and remembered.

Which CPU runtime is fastest depends on the CPU, the network and the size (measured: ONNX Runtime 1.55x PyTorch on
one AVX-512 EPYC at 720p, PyTorch ahead on a Xeon), so no rule of thumb is right everywhere. The candidates are
the exact float32 paths: PyTorch's default (fused, channels_last) and, when installed, ONNX Runtime and OpenVINO
(the network exported once, cached beside its checkpoint). Each runs a blank image of the job's size class, one
warm-up call each and then interleaved calls (median). A runtime replaces PyTorch only when it is faster by more
than :data:`NOISE`; the choice and its numbers are kept in :func:`choices_path`, keyed by machine (CPU model,
threads, package versions), network and size class, so later jobs use it without measuring.

Measuring costs an export and a few calls; a job that PyTorch finishes in under :data:`MIN_JOB_SECONDS` keeps
PyTorch without measuring (nothing is cached then, and a later, longer job measures). On a GPU, with another
precision than float32, or with ``--compile``, ``auto`` is PyTorch: the runtimes run float32 on the CPU.
"""
import datetime
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os

import torch

from ..errors import UserError
from ..fileio import atomic_write
from ..locks import output_lock
from .runtimes import RUNTIMES
from .timing import cpu_model_name, time_interleaved

__all__ = ['AUTO', 'NOISE', 'MIN_JOB_SECONDS', 'SIZE_CLASSES', 'Workload', 'size_class', 'choices_path',
           'installed_runtimes', 'choice_key', 'choose_runtime']

AUTO = 'auto'
NOISE = 0.05  # a runtime replaces PyTorch only when its median is this much shorter (repeat runs vary by ~2-4 %)
MIN_JOB_SECONDS = 20.0  # about what exporting and measuring cost for a GoPro-size NAFNet on 2 cores
MIN_CALLS, MAX_CALLS, MEASURE_SECONDS = 3, 15, 3.0  # interleaved calls per runtime: more where they are short
CHOICES_FILE = 'basicsr_nafnet-runtime-choices.json'
# (label, height, width): a job is measured at the smallest class holding its image (or tile) size
SIZE_CLASSES = (('256', 256, 256), ('512', 512, 512), ('720p', 720, 1280), ('1080p', 1080, 1920))
_PACKAGES = {'onnxruntime': ('onnx', 'onnxscript', 'onnxruntime'), 'openvino': ('onnx', 'onnxscript', 'openvino')}


class Workload:
    """What a job runs: ``count`` calls on ``height x width`` inputs (images, or tiles of them)."""

    def __init__(self, height, width, count=1):
        self.height, self.width, self.count = int(height), int(width), max(1, int(count))

    @classmethod
    def of_images(cls, sizes, tile=None):
        """The workload of images of ``sizes`` ([(h, w), ...]) run whole or in ``tile`` x ``tile`` tiles."""
        sizes = list(sizes)
        if not sizes:
            return None
        height, width = max(h for h, _ in sizes), max(w for _, w in sizes)
        if not tile:
            return cls(height, width, len(sizes))
        tiles = sum(math.ceil(h / tile) * math.ceil(w / tile) for h, w in sizes)
        return cls(min(tile, height), min(tile, width), tiles)

    def __repr__(self):
        return f'Workload({self.height}x{self.width}, count={self.count})'


def size_class(height, width):
    """``(label, height, width)`` of the smallest class holding ``height x width`` (either orientation)."""
    pixels = height * width
    for label, h, w in SIZE_CLASSES:
        if pixels <= h * w:
            return label, h, w
    return f'{height}x{width}', height, width  # larger than every class: measured at its own size


def choices_path():
    """The file that remembers the choices: in the weights cache (``$BASICSR_NAFNET_CACHE`` or torch hub's)."""
    from ..data.download import cache_dir

    return os.path.join(cache_dir(), CHOICES_FILE)


def installed_runtimes():
    """The runtimes among :data:`RUNTIMES` whose packages are installed here (found, not imported: that is slow)."""
    return [r for r in RUNTIMES if all(importlib.util.find_spec(p) is not None for p in _PACKAGES[r])]


# raised when one of the paths changes what it costs (2: the PyTorch path reuses freed host memory), so choices
# measured before are measured again
PATHS_REVISION = 2


def _versions(runtimes):
    versions = {'torch': torch.__version__, 'paths': PATHS_REVISION}
    for name in runtimes:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = '?'
    return versions


def choice_key(spec, label, runtimes):
    """The key of a choice: this machine (CPU, threads, versions), the network's arch and options, the size class."""
    network = json.dumps(spec.network, sort_keys=True, default=str) if spec.network else os.path.abspath(spec.onnx)
    text = json.dumps(dict(cpu=cpu_model_name(), capability=torch.backends.cpu.get_cpu_capability(),
                           threads=torch.get_num_threads(), versions=_versions(runtimes), network=network,
                           size=label), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _read_choices(path):
    try:
        with open(path, encoding='utf-8') as f:
            choices = json.load(f)
    except (OSError, ValueError):  # absent, or damaged: measure again and rewrite it
        return {}
    return choices if isinstance(choices, dict) else {}


def _describe(record):
    ranked = sorted(record['seconds'].items(), key=lambda kv: kv[1])
    times = ', '.join(f'{name} {seconds * 1e3:.0f} ms' for name, seconds in ranked)
    return f"{record['runtime']} at {record['size']} ({times}; measured {record['measured']})"


def choose_runtime(spec, net, workload, runner_for, log=None, path=None, min_job_seconds=None):
    """The runtime ``auto`` means for ``spec`` on this machine and ``workload``: None (PyTorch) or a runtime name.

    Args:
        spec (ModelSpec): The model (a PyTorch spec; ``.onnx`` specs choose among the runtimes only).
        net (nn.Module | None): Its network on the CPU (None for an ``.onnx`` spec).
        workload (Workload | None): The job; None: use a remembered choice, else PyTorch (nothing measured).
        runner_for (callable): ``runner_for(runtime)`` gives the runner of a runtime (exporting if needed).
        log (callable | None): Receives one line saying what was chosen and why.
        path (str | None): The choices file (default :func:`choices_path`).
        min_job_seconds (float | None): Shorter jobs (estimated with PyTorch) keep PyTorch without measuring the
            others; None: :data:`MIN_JOB_SECONDS`.

    Returns:
        tuple: ``(runtime, runner)``; ``runner`` is the one already made while measuring, or None.
    """
    say = log or (lambda line: None)
    candidates = installed_runtimes()
    default = 'onnxruntime' if spec.onnx else None
    if spec.onnx:
        candidates = [r for r in candidates if r != 'onnxruntime']
        if not candidates:
            return default, None
    elif not candidates:
        return None, None
    path = path or choices_path()
    label, height, width = size_class(workload.height, workload.width) if workload else SIZE_CLASSES[2]
    key = choice_key(spec, label, candidates)
    remembered = _read_choices(path).get(key)
    if remembered and remembered.get('runtime') in (('torch', ) + RUNTIMES):
        say(f"runtime auto: {_describe(remembered)}, remembered in {path}")
        return (None if remembered['runtime'] == 'torch' else remembered['runtime']), None
    if workload is None:
        say(f"runtime auto: {default or 'torch'} (no size to measure at, nothing remembered)")
        return default, None

    x = torch.rand(1, 3, height, width)
    runners = {(default or 'torch'): runner_for(default)}
    reference = default or 'torch'
    with torch.inference_mode():
        first = time_interleaved({reference: lambda: runners[reference](x)}, 1, torch.device('cpu'), desc=label)
    estimate = first[reference] * workload.count
    if estimate < (MIN_JOB_SECONDS if min_job_seconds is None else min_job_seconds):
        say(f'runtime auto: {reference} (the job takes about {estimate:.0f} s with it; measuring the other '
            f'runtimes would cost more than they could save)')
        return default, runners[reference]
    for name in candidates:
        try:
            runners[name] = runner_for(name)
        except UserError as err:  # e.g. the export cache beside a read-only checkpoint: not a candidate here
            say(f'runtime auto: {name} left out ({err})')
    with torch.inference_mode():
        calls = min(MAX_CALLS, max(MIN_CALLS, math.ceil(MEASURE_SECONDS / max(first[reference], 1e-6))))
        seconds = time_interleaved({name: (lambda r=r: r(x)) for name, r in runners.items()}, calls,
                                   torch.device('cpu'), desc=f'runtime auto, {label}')
    best = min(seconds, key=seconds.get)
    if best != reference and seconds[best] > (1 - NOISE) * seconds[reference]:
        best = reference  # within the noise: keep the default
    record = dict(runtime=best, size=label, seconds=seconds, cpu=cpu_model_name(), threads=torch.get_num_threads(),
                  network=spec.name, measured=datetime.date.today().isoformat())
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with output_lock(path + '.lock', path, wait=True):
        choices = _read_choices(path)
        choices[key] = record
        atomic_write(path, json.dumps(choices, indent=1, sort_keys=True) + '\n')
    say(f'runtime auto: {_describe(record)}, remembered in {path}')
    return (None if best == 'torch' else best), runners[best]
