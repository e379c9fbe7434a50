"""Speed and memory of the registered archs under each execution path (``scripts/benchmark.py``).

For every arch at its GoPro configuration (:mod:`.configs`): parameters, MACs, inference time and peak
memory per execution path of :mod:`basicsr_nafnet.inference` (with the ratio to plain float32 NCHW eager,
the way the official code runs), cost per megapixel, achieved GFLOP/s against the matmul throughput
measured in the same run, training steps per mode (:mod:`.training`), and tiled 4K inference of
NAFNet-width32. ONNX Runtime and OpenVINO run the same weights exported once per arch (:mod:`.runtimes`).
How time and memory are measured: :mod:`.timing`, :mod:`.runtimes`.
"""
import tempfile
import time
from collections import OrderedDict

import torch

from ..errors import UserError
from ..evaluation.complexity import count_macs
from ..inference import prepare_for_inference, synchronize, tiled_forward
from ..inference.runtimes import make_runtime_runner
from .configs import TINY_CONFIGS, build_arch, gopro_configs
from .plain_reference import is_plain_nafnet, plain_runner
from .runtimes import (RSS_METHOD, RUNTIME_PATHS, available_runtime_paths, export_for_benchmark,
                       runtime_peak_memory, runtime_versions)
from .timing import PEAK_MEMORY_METHOD, machine_description, matmul_gflops, peak_memory, time_guarding_slow
from .training import DEFAULT_TRAIN_MODES, TRAIN_MODES, benchmark_training, gopro_recipe

__all__ = ['PATHS', 'DEFAULT_PATHS', 'make_path', 'benchmark_inference', 'benchmark_tiled', 'run_benchmark']

# name -> keyword arguments of prepare_for_inference; 'eager' is the unconverted network
PATHS = OrderedDict([
    ('eager', None),
    ('official', None),  # NAFNet computed as the official code computes it (.plain_reference), float32 NCHW
    ('channels_last', dict(fuse=False, channels_last=True)),
    ('fused', dict(fuse=True, channels_last=False)),
    ('default', dict()),
    ('bf16', dict(precision='bf16')),
    ('bf16_autocast', dict(precision='bf16', fuse=False, channels_last=False, autocast=True)),
    ('fp16', dict(precision='fp16')),
    ('compile', dict(compile=True)),
    ('compile_unfused', dict(compile=True, fuse=False)),
    ('onnxruntime', dict(runtime='onnxruntime')),  # the exported network (see .runtimes), CPU only
    ('openvino', dict(runtime='openvino')),
])
DEFAULT_PATHS = {'cpu': ['eager', 'official', 'channels_last', 'fused', 'default', 'bf16', 'bf16_autocast',
                         'onnxruntime', 'openvino'],
                 'cuda': ['eager', 'channels_last', 'fused', 'default', 'bf16', 'fp16', 'compile']}


def make_path(net, path, onnx_file=None):
    """A float32-NCHW-in, float32-out callable for execution path ``path`` (a key of :data:`PATHS`).

    ``onnx_file``: the exported network, for the runtime paths.
    """
    if path not in PATHS:
        raise ValueError(f"unknown execution path '{path}'; choose from: {', '.join(PATHS)}")
    if path in RUNTIME_PATHS:
        return make_runtime_runner(onnx_file, path, key='benchmark export')
    if path == 'official':
        return plain_runner(net)
    if PATHS[path] is None:
        return torch.no_grad()(net)  # how the official NAFNet code runs its test
    return prepare_for_inference(net, **PATHS[path])


def benchmark_inference(net, paths, size, runs, device, macs_per_pixel=None, slow_factor=None, onnx_file=None):
    """Time, peak memory and accuracy of each path on one 1 x 3 x H x W input.

    Args:
        slow_factor (float | None): A path whose first (warm-up) call takes more than this many times
            eager's is not timed again: its first call is reported with ``runs`` 1 (bf16 on a CPU
            without bf16 instructions runs 10-15x slower than float32, and five more calls of it at
            1280x720 would take many minutes while saying nothing new). None: time every path.
            Compiled paths get one more call before, so their compiling is not counted; dynamo's caches
            are reset first, so each size is compiled for its own shape, as a program deblurring frames
            of one size would have it (not as a shape-generic graph after a second size).
        onnx_file (str | None): ``net`` exported, for the runtime paths (their peak is RSS growth, see .runtimes).

    Returns:
        dict[str, dict]: Per path: ``seconds``, ``runs`` (timed calls behind ``seconds``), ``ratio``
        (eager seconds / seconds), ``peak_mb``, ``ms_per_mp``, ``gflops`` (achieved, from MACs) and
        ``max_abs_diff`` against eager; compiled paths also ``compile_seconds`` and ``compiled``
        (False: compiling failed and the path ran eagerly).
    """
    h, w = size
    torch.manual_seed(1)
    x = torch.rand(1, 3, h, w, device=device)
    runners = OrderedDict((p, make_path(net, p, onnx_file)) for p in paths)
    calls = OrderedDict((p, (lambda r=r: r(x))) for p, r in runners.items())
    compiled = [p for p in paths if (PATHS[p] or {}).get('compile')]
    if compiled:
        torch._dynamo.reset()
    compile_seconds = {}
    for p in compiled:  # compiling happens in the first call: not what the path costs per image
        start = time.perf_counter()
        calls[p]()
        synchronize(device)
        compile_seconds[p] = time.perf_counter() - start
    # the warm-up calls return the outputs compared below
    seconds, slow, outputs = time_guarding_slow(calls, 'eager', runs, device, f'{h}x{w}', slow_factor)
    results = OrderedDict()
    base = seconds.get('eager')
    megapixels = h * w / 1e6
    for p, call in calls.items():
        peak = runtime_peak_memory(onnx_file, p, x) if p in RUNTIME_PATHS else peak_memory(call, device)
        results[p] = dict(
            seconds=seconds[p],
            runs=1 if p in slow else runs,
            peak_method='rss' if p in RUNTIME_PATHS else 'torch',
            ratio=base / seconds[p] if base else None,
            peak_mb=peak / 2**20 if peak is not None else None,
            ms_per_mp=seconds[p] * 1e3 / megapixels,
            gflops=2 * macs_per_pixel * h * w / seconds[p] / 1e9 if macs_per_pixel else None,
            max_abs_diff=(outputs[p].float() - outputs['eager'].float()).abs().max().item()
            if 'eager' in outputs else None)
        if p in compile_seconds:
            results[p].update(compile_seconds=compile_seconds[p], compiled=runners[p].compiled)
    return results


def benchmark_tiled(net, size, tile, overlap, device, path='default'):
    """One tiled inference of a 1 x 3 x H x W image: seconds and peak memory (input and output included)."""
    runner = make_path(net, path)
    h, w = size

    def run():
        img = torch.rand(1, 3, h, w, device=device)
        with torch.inference_mode():
            return tiled_forward(runner, img, tile=tile, overlap=overlap)

    start = time.perf_counter()
    peak = peak_memory(run, device)
    return dict(size=[h, w], tile=tile, overlap=overlap, path=path, seconds_with_profiler=time.perf_counter() - start,
                peak_mb=peak / 2**20 if peak is not None else None)


def run_benchmark(archs=None, sizes=((256, 256), (720, 1280)), paths=None, runs=5, device='cpu', quick=False,
                  train_size=(256, 256), train_batch=1, train_runs=None, tiled=True, tile_size=(2160, 3840),
                  tile=512, overlap=32, slow_factor=5.0, configs=None, train=True, train_modes=None, recipe=None,
                  log=print):
    """Run the whole benchmark and return its results as a JSON-serialisable dict.

    Args:
        archs (list[str] | None): Arch names; default: all of :func:`.configs.gopro_configs` (or
            :data:`.configs.TINY_CONFIGS` with ``quick``).
        sizes (sequence of (H, W)): Inference sizes. The first is also used for MACs (the training
            size where ``sizes`` is empty: training steps only).
        paths (list[str] | None): Execution paths (keys of :data:`PATHS`); 'eager' is always added
            first, since every ratio is against it. Default: :data:`DEFAULT_PATHS` of the device.
        runs (int): Timed runs per path after the warm-up (at least 5 for reported numbers).
        device (str): 'cpu' or 'cuda'.
        quick (bool): Tiny configurations (for tests and smoke runs).
        train_size, train_batch, train_runs: Training-step input and timed steps (default: ``runs``).
        train (bool): Time the training step. Default: True.
        train_modes (list[str] | None): Training modes (keys of :data:`.training.TRAIN_MODES`); default
            :data:`.training.DEFAULT_TRAIN_MODES` of the device. 'fp32' is always added first.
        recipe (dict | None): ``train`` options of the timed steps; default the NAFNet-width32 GoPro file's.
        tiled (bool): Also run tiled inference of NAFNet at ``tile_size`` with ``tile``/``overlap``.
        slow_factor (float | None): A path (or training mode) more than this many times slower than
            eager in its first call is timed by that call alone, and skipped at the arch's larger
            sizes (see :func:`benchmark_inference`). None or 0: time everything everywhere.
        configs (dict[str, dict] | None): Name -> network options to benchmark instead of the built-in
            configurations (a ``type`` key names the arch where the name is not one), e.g. the
            ``network_g`` of an option file (:func:`configs_from_option_file`).
        log (callable): Receives progress lines.

    Returns:
        dict: ``machine``, ``peak_memory_method``, ``matmul_gflops``, ``archs`` (per arch: params,
        MACs, inference per size and path, training), ``tiled``.
    """
    device = torch.device(device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise UserError('--device cuda was requested but torch.cuda.is_available() is False')
    builtin = TINY_CONFIGS if quick else gopro_configs()
    configs = configs or builtin
    archs = list(archs or configs)
    unknown = [a for a in archs if a not in configs]
    if unknown:
        raise UserError(f"--archs {' '.join(unknown)}: no benchmark configuration; choose from: {', '.join(configs)}")
    explicit = paths is not None
    paths = list(paths or DEFAULT_PATHS[device.type])
    paths = ['eager'] + [p for p in paths if p != 'eager']
    for p in paths:
        if p not in PATHS:
            raise ValueError(f"unknown execution path '{p}'; choose from: {', '.join(PATHS)}")
    if device.type != 'cpu' and set(paths) & set(RUNTIME_PATHS):
        raise UserError('the onnxruntime and openvino paths run on the CPU: benchmark them with --device cpu')
    train_modes = ['fp32'] + [m for m in train_modes or DEFAULT_TRAIN_MODES[device.type] if m != 'fp32']
    for m in train_modes:
        if m not in TRAIN_MODES:
            raise ValueError(f"unknown training mode '{m}'; choose from: {', '.join(TRAIN_MODES)}")
    recipe = recipe or gopro_recipe()
    if not explicit:  # the defaults skip a runtime that is not installed; asked for by name, it is required below
        paths, dropped = available_runtime_paths(paths)
        if dropped:
            log(f"not installed, skipped: {', '.join(dropped)} (pip install -e .[deploy])")
    results = OrderedDict(machine=machine_description(device), device=device.type,
                          peak_memory_method=PEAK_MEMORY_METHOD[device.type], runs=runs, quick=quick,
                          slow_factor=slow_factor, runtimes=runtime_versions(paths))
    if results['runtimes']:
        results['peak_memory_method_runtimes'] = RSS_METHOD
    results['matmul_gflops'] = {
        'fp32': matmul_gflops(device, torch.float32, n=512 if quick else 2048),
        'bf16': matmul_gflops(device, torch.bfloat16, n=512 if quick else 2048)}
    log(f"matmul GFLOP/s: fp32 {results['matmul_gflops']['fp32']:.1f}, bf16 {results['matmul_gflops']['bf16']:.1f}")
    results['archs'] = OrderedDict()
    exports = tempfile.TemporaryDirectory(prefix='bench-onnx-')  # removed when the run ends
    for name in archs:
        net = build_arch(name, configs[name], device)
        h0, w0 = sizes[0] if sizes else train_size
        params, macs = sum(p.numel() for p in net.parameters()), count_macs(net, (1, 3, h0, w0))
        entry = OrderedDict(config=configs[name], params=params, macs_size=[h0, w0], macs=macs, inference=OrderedDict())
        log(f'{name}: {params / 1e6:.3f} M params, {macs / 1e9:.3f} GMACs at {h0}x{w0}')
        # path -> why it is not run: too slow at a smaller size, or the official way, which is written for NAFNet only
        not_run = {} if is_plain_nafnet(net) else {'official': 'the official way is computed for NAFNet only'}
        onnx_file = None
        if sizes and set(paths) & set(RUNTIME_PATHS):
            onnx_file, entry['onnx_export_seconds'] = export_for_benchmark(net, exports.name, name)
            log(f"  exported to ONNX in {entry['onnx_export_seconds']:.0f} s")
        for h, w in sizes:
            # MACs grow with the pixel count (all layers are convolutions; the attention's 1x1 convs are negligible)
            run_paths = [p for p in paths if p not in not_run]
            res = benchmark_inference(net, run_paths, (h, w), runs, device, macs_per_pixel=macs / (h0 * w0),
                                      slow_factor=slow_factor, onnx_file=onnx_file)
            for p, r in res.items():
                if r['gflops'] is not None:
                    r['fraction_of_fp32_matmul'] = r['gflops'] / results['matmul_gflops']['fp32']
                    r['fraction_of_bf16_matmul'] = r['gflops'] / results['matmul_gflops']['bf16']
                if r['runs'] == 1 and runs > 1:
                    not_run[p] = f'{1 / r["ratio"]:.1f}x slower than eager at {h}x{w}'
            for p in paths:
                if p not in res:
                    res[p] = dict(skipped=not_run[p])
            entry['inference'][f'{h}x{w}'] = res
            log(f'  {h}x{w}: ' + ', '.join(f'{p} {r["seconds"] * 1e3:.0f} ms (x{r["ratio"]:.2f})' if 'seconds' in r
                                           else f'{p} skipped' for p, r in res.items()))
        if train:
            modes = benchmark_training({'type': name, **configs[name]}, train_size, train_batch, train_runs or runs,
                                       device, train_modes, recipe, slow_factor)
            entry['training'] = dict(size=list(train_size), batch=train_batch, recipe=recipe, modes=modes)
            log('  train step: ' + ', '.join(f'{m} {r["seconds"] * 1e3:.0f} ms' for m, r in modes.items()))
        results['archs'][name] = entry
        del net
    if tiled:
        net = build_arch('NAFNet', builtin['NAFNet'], device)
        results['tiled'] = benchmark_tiled(net, tile_size, tile, overlap, device)
        log(f"tiled {tile_size[0]}x{tile_size[1]}: peak {results['tiled']['peak_mb']} MB")
    exports.cleanup()
    return results
