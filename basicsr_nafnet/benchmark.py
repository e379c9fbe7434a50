"""Speed and memory of the registered archs under each execution path (``scripts/benchmark.py``).

For every arch at its GoPro configuration: parameters, MACs, inference time and peak memory per
execution path of :mod:`basicsr_nafnet.deploy` (with the ratio to plain float32 NCHW eager, the
way the official code runs), cost per megapixel, achieved GFLOP/s against the matmul throughput
measured in the same run, a training step, and tiled 4K inference of NAFNet-width32.

Timing: the paths are interleaved (path A, B, C, A, B, C, ...) after one warm-up call each, and the
median is reported, so a burst of load from other processes hits every path alike; compare the
ratios, which come from one run, rather than absolute times across runs.

Peak memory: on CUDA, ``torch.cuda.max_memory_allocated`` above what was allocated before the
call. On the CPU, PyTorch has no allocator statistics, so one extra call runs under
``torch.profiler`` with ``profile_memory=True``; the peak is the maximum of the running sum of its
allocation and free events, i.e. the most bytes PyTorch's CPU allocator held at once during the
call on top of what was held before (weights, input). Buffers oneDNN or MKL allocate internally
are not included.
"""
import copy
import json
import os
import platform
import statistics
import time
from collections import OrderedDict

import torch
from tqdm import tqdm

from .deploy import prepare_for_inference

__all__ = [
    'GOPRO_CONFIGS', 'QUICK_CONFIGS', 'PATHS', 'build_arch', 'count_complexity', 'matmul_gflops', 'peak_memory',
    'time_interleaved', 'make_path', 'benchmark_inference', 'benchmark_training', 'benchmark_tiled',
    'run_benchmark', 'format_markdown', 'machine_description', 'write_json', 'configs_from_option_file'
]

_GOPRO_UNET = dict(width=32, enc_blk_nums=[1, 1, 1, 28], middle_blk_num=1, dec_blk_nums=[1, 1, 1, 1])
# official option files: NAFNet-width32 / Baseline-width32 GoPro; ResidualCNN and DeblurUNet use their defaults
GOPRO_CONFIGS = OrderedDict([
    ('NAFNet', dict(_GOPRO_UNET)),
    ('NAFNetLocal', dict(_GOPRO_UNET, train_size=[1, 3, 256, 256])),
    ('Baseline', dict(_GOPRO_UNET, dw_expand=1, ffn_expand=2)),
    ('BaselineLocal', dict(_GOPRO_UNET, dw_expand=1, ffn_expand=2, train_size=[1, 3, 256, 256])),
    ('ResidualCNN', dict()),
    ('DeblurUNet', dict()),
])
_TINY_UNET = dict(width=8, enc_blk_nums=[1, 1], middle_blk_num=1, dec_blk_nums=[1, 1])
QUICK_CONFIGS = OrderedDict([
    ('NAFNet', dict(_TINY_UNET)),
    ('NAFNetLocal', dict(_TINY_UNET, train_size=[1, 3, 16, 16])),
    ('Baseline', dict(_TINY_UNET)),
    ('BaselineLocal', dict(_TINY_UNET, train_size=[1, 3, 16, 16])),
    ('ResidualCNN', dict(num_feat=8, num_block=2)),
    ('DeblurUNet', dict(_TINY_UNET)),
])

# name -> keyword arguments of prepare_for_inference; 'eager' is the unconverted network
PATHS = OrderedDict([
    ('eager', None),
    ('channels_last', dict(fuse=False, channels_last=True)),
    ('fused', dict(fuse=True, channels_last=False)),
    ('default', dict()),
    ('bf16', dict(precision='bf16')),
    ('bf16_autocast', dict(precision='bf16', fuse=False, channels_last=False, autocast=True)),
    ('fp16', dict(precision='fp16')),
    ('compile', dict(compile=True)),
    ('compile_unfused', dict(compile=True, fuse=False)),
])
DEFAULT_PATHS = {'cpu': ['eager', 'channels_last', 'fused', 'default', 'bf16', 'bf16_autocast'],
                 'cuda': ['eager', 'channels_last', 'fused', 'default', 'bf16', 'fp16']}
PEAK_MEMORY_METHOD = {
    'cpu': 'torch.profiler allocation events: most bytes held by the PyTorch CPU allocator during the call, '
           'on top of what was held before (oneDNN/MKL internal buffers not included)',
    'cuda': 'torch.cuda.max_memory_allocated during the call minus memory_allocated before it',
}


def machine_description(device):
    """A one-line description of the CPU (lscpu model name) or GPU, with thread count and torch version."""
    if device.type == 'cuda':
        name = torch.cuda.get_device_name(device)
    else:
        name = platform.processor() or 'unknown CPU'
        try:
            with open('/proc/cpuinfo') as f:
                for line in f:
                    if line.startswith('model name'):
                        name = line.split(':', 1)[1].strip()
                        break
        except OSError:
            pass
        name += f', {torch.backends.cpu.get_cpu_capability()}'
    return f'{name}; torch {torch.__version__}; {torch.get_num_threads()} threads'


def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def build_arch(name, config, device):
    """Build a registered arch with ``config`` on ``device`` in eval mode, with non-zero beta/gamma.

    beta and gamma start at zero, which would make every block the identity and leave its branches
    out of the accuracy columns; small random values make the comparison meaningful.
    """
    from basicsr.archs import build_network
    torch.manual_seed(0)
    net = build_network({'type': name, **config})
    with torch.no_grad():
        for pname, p in net.named_parameters():
            if pname.endswith(('beta', 'gamma')):
                p.normal_(0, 0.1)
    return net.to(device).eval()


def count_complexity(net, size):
    """Parameters and multiply-accumulates for one 1 x 3 x H x W input (mmengine counts MACs as 'flops')."""
    import logging

    from mmengine.analysis import get_model_complexity_info
    from mmengine.logging import MMLogger
    params = sum(p.numel() for p in net.parameters())
    probe = copy.deepcopy(net).cpu().float()
    # mmengine warns about every op it does not count (norms, gates, adds): not MACs, so not news here
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        info = get_model_complexity_info(probe, inputs=(torch.rand(1, 3, *size), ), show_table=False,
                                         show_arch=False)
    finally:
        logger.setLevel(level)
    return params, int(info['flops'])


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
        _sync(device)
        start = time.perf_counter()
        a @ b
        _sync(device)
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
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        _sync(device)
        return torch.cuda.max_memory_allocated(device) - before
    from torch.profiler import ProfilerActivity, profile
    try:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            fn()
        return _cpu_peak_from_profiler(prof)
    except (AttributeError, ImportError, RuntimeError):  # private profiler API moved: report no number
        return None


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
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def _timed_first_calls(fns, device):
    """Seconds of one call of each function (the warm-up) and its return value."""
    seconds, values = {}, {}
    for name, fn in fns.items():
        _sync(device)
        start = time.perf_counter()
        values[name] = fn()
        _sync(device)
        seconds[name] = time.perf_counter() - start
    return seconds, values


def _split_slow(first_seconds, reference, slow_factor):
    """Names whose first call took more than ``slow_factor`` times the reference's first call."""
    if not slow_factor or reference not in first_seconds:
        return set()
    limit = slow_factor * first_seconds[reference]
    return {name for name, sec in first_seconds.items() if name != reference and sec > limit}


def _time_guarding_slow(fns, reference, runs, device, desc, slow_factor):
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


def make_path(net, path):
    """A float32-NCHW-in, float32-out callable for execution path ``path`` (a key of :data:`PATHS`)."""
    if path not in PATHS:
        raise ValueError(f"unknown execution path '{path}'; choose from: {', '.join(PATHS)}")
    if PATHS[path] is None:

        def eager(x):
            with torch.no_grad():  # how the official NAFNet code runs its test
                return net(x)

        return eager
    return prepare_for_inference(net, **PATHS[path])


def benchmark_inference(net, paths, size, runs, device, macs_per_pixel=None, slow_factor=None):
    """Time, peak memory and accuracy of each path on one 1 x 3 x H x W input.

    Args:
        slow_factor (float | None): A path whose first (warm-up) call takes more than this many times
            eager's is not timed again: its first call is reported with ``runs`` 1 (bf16 on a CPU
            without bf16 instructions runs 10-15x slower than float32, and five more calls of it at
            1280x720 would take many minutes while saying nothing new). None: time every path.
            Compiled paths get one more call before, so their compiling is not counted.

    Returns:
        dict[str, dict]: Per path: ``seconds``, ``runs`` (timed calls behind ``seconds``), ``ratio``
        (eager seconds / seconds), ``peak_mb``, ``ms_per_mp``, ``gflops`` (achieved, from MACs) and
        ``max_abs_diff`` against eager.
    """
    h, w = size
    torch.manual_seed(1)
    x = torch.rand(1, 3, h, w, device=device)
    runners = OrderedDict((p, make_path(net, p)) for p in paths)
    calls = OrderedDict((p, (lambda r=r: r(x))) for p, r in runners.items())
    for p in paths:  # compiling happens in the first call: not what the path costs per image
        if (PATHS[p] or {}).get('compile'):
            calls[p]()
    # the warm-up calls return the outputs compared below
    seconds, slow, outputs = _time_guarding_slow(calls, 'eager', runs, device, f'{h}x{w}', slow_factor)
    results = OrderedDict()
    base = seconds.get('eager')
    megapixels = h * w / 1e6
    for p, call in calls.items():
        peak = peak_memory(call, device)
        results[p] = dict(
            seconds=seconds[p],
            runs=1 if p in slow else runs,
            ratio=base / seconds[p] if base else None,
            peak_mb=peak / 2**20 if peak is not None else None,
            ms_per_mp=seconds[p] * 1e3 / megapixels,
            gflops=2 * macs_per_pixel * h * w / seconds[p] / 1e9 if macs_per_pixel else None,
            max_abs_diff=(outputs[p].float() - outputs['eager'].float()).abs().max().item()
            if 'eager' in outputs else None)
    return results


def benchmark_training(net, size, batch, runs, device, modes=('fp32', 'channels_last', 'bf16_autocast'),
                       slow_factor=None):
    """Seconds and peak memory of one training step (forward, PSNR loss, backward, AdamW step) per mode.

    Modes: ``fp32`` (NCHW), ``channels_last`` (float32), ``bf16_autocast`` (NCHW, autocast bf16 on
    the CPU, fp16 on CUDA). Each mode trains its own copy of ``net``. ``slow_factor``: as in
    :func:`benchmark_inference`, against the fp32 step.
    """
    from .losses.psnr_loss import PSNRLoss
    h, w = size
    torch.manual_seed(2)
    lq = torch.rand(batch, 3, h, w, device=device)
    gt = torch.rand(batch, 3, h, w, device=device)
    loss_fn = PSNRLoss()
    steps = {}
    for mode in modes:
        model = copy.deepcopy(net).train()
        inp, target = lq, gt
        if mode == 'channels_last':
            model = model.to(memory_format=torch.channels_last)
            inp, target = (t.contiguous(memory_format=torch.channels_last) for t in (lq, gt))
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        amp_dtype = torch.bfloat16 if device.type == 'cpu' else torch.float16
        use_amp = mode == 'bf16_autocast'

        def step(model=model, optimizer=optimizer, inp=inp, target=target, use_amp=use_amp):
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                loss = loss_fn(model(inp).float(), target)
            loss.backward()
            optimizer.step()

        steps[mode] = step
    seconds, slow, _ = _time_guarding_slow(steps, 'fp32', runs, device, 'train step', slow_factor)
    results = OrderedDict()
    for mode, step in steps.items():
        peak = peak_memory(step, device)
        results[mode] = dict(seconds=seconds[mode], runs=1 if mode in slow else runs,
                             ratio=seconds['fp32'] / seconds[mode] if 'fp32' in seconds else None,
                             peak_mb=peak / 2**20 if peak is not None else None)
    return results


def benchmark_tiled(net, size, tile, overlap, device, path='default'):
    """One tiled inference of a 1 x 3 x H x W image: seconds and peak memory (input and output included)."""
    try:
        from .inference import tiled_forward
    except ImportError:  # pragma: no cover - inference.py is another module's job
        tiled_forward = None
    runner = make_path(net, path)
    h, w = size

    def run():
        img = torch.rand(1, 3, h, w, device=device)
        if tiled_forward is None:
            raise RuntimeError('basicsr_nafnet.inference.tiled_forward is missing')
        with torch.inference_mode():
            return tiled_forward(runner, img, tile=tile, overlap=overlap)

    start = time.perf_counter()
    peak = peak_memory(run, device)
    return dict(size=[h, w], tile=tile, overlap=overlap, path=path, seconds_with_profiler=time.perf_counter() - start,
                peak_mb=peak / 2**20 if peak is not None else None)


def run_benchmark(archs=None, sizes=((256, 256), (720, 1280)), paths=None, runs=5, device='cpu', quick=False,
                  train_size=(256, 256), train_batch=1, train_runs=None, tiled=True, tile_size=(2160, 3840),
                  tile=512, overlap=32, slow_factor=5.0, configs=None, train=True, log=print):
    """Run the whole benchmark and return its results as a JSON-serialisable dict.

    Args:
        archs (list[str] | None): Arch names; default: all of :data:`GOPRO_CONFIGS` (or
            :data:`QUICK_CONFIGS` with ``quick``).
        sizes (sequence of (H, W)): Inference sizes. The first is also used for MACs (the training
            size where ``sizes`` is empty: training steps only).
        paths (list[str] | None): Execution paths (keys of :data:`PATHS`); 'eager' is always added
            first, since every ratio is against it. Default: :data:`DEFAULT_PATHS` of the device.
        runs (int): Timed runs per path after the warm-up (at least 5 for reported numbers).
        device (str): 'cpu' or 'cuda'.
        quick (bool): Tiny configurations (for tests and smoke runs).
        train_size, train_batch, train_runs: Training-step input and timed steps (default: ``runs``).
        train (bool): Time the training step. Default: True.
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
        raise RuntimeError('--device cuda was requested but torch.cuda.is_available() is False')
    builtin = QUICK_CONFIGS if quick else GOPRO_CONFIGS
    configs = configs or builtin
    archs = list(archs or configs)
    unknown = [a for a in archs if a not in configs]
    if unknown:
        raise ValueError(f"no benchmark configuration for {unknown}; known: {', '.join(configs)}")
    paths = list(paths or DEFAULT_PATHS[device.type])
    paths = ['eager'] + [p for p in paths if p != 'eager']
    for p in paths:
        if p not in PATHS:
            raise ValueError(f"unknown execution path '{p}'; choose from: {', '.join(PATHS)}")
    results = OrderedDict(machine=machine_description(device), device=device.type,
                          peak_memory_method=PEAK_MEMORY_METHOD[device.type], runs=runs, quick=quick,
                          slow_factor=slow_factor)
    results['matmul_gflops'] = {
        'fp32': matmul_gflops(device, torch.float32, n=512 if quick else 2048),
        'bf16': matmul_gflops(device, torch.bfloat16, n=512 if quick else 2048)}
    log(f"matmul GFLOP/s: fp32 {results['matmul_gflops']['fp32']:.1f}, bf16 {results['matmul_gflops']['bf16']:.1f}")
    results['archs'] = OrderedDict()
    for name in archs:
        net = build_arch(name, configs[name], device)
        h0, w0 = sizes[0] if sizes else train_size
        params, macs = count_complexity(net, (h0, w0))
        entry = OrderedDict(config=configs[name], params=params, macs_size=[h0, w0], macs=macs, inference=OrderedDict())
        log(f'{name}: {params / 1e6:.3f} M params, {macs / 1e9:.3f} GMACs at {h0}x{w0}')
        too_slow = {}  # path -> why it is not run at the larger sizes
        for h, w in sizes:
            # MACs grow with the pixel count (all layers are convolutions; the attention's 1x1 convs are negligible)
            run_paths = [p for p in paths if p not in too_slow]
            res = benchmark_inference(net, run_paths, (h, w), runs, device, macs_per_pixel=macs / (h0 * w0),
                                      slow_factor=slow_factor)
            for p, r in res.items():
                if r['gflops'] is not None:
                    r['fraction_of_fp32_matmul'] = r['gflops'] / results['matmul_gflops']['fp32']
                    r['fraction_of_bf16_matmul'] = r['gflops'] / results['matmul_gflops']['bf16']
                if r['runs'] == 1 and runs > 1:
                    too_slow[p] = f'{1 / r["ratio"]:.1f}x slower than eager at {h}x{w}'
            for p in paths:
                if p not in res:
                    res[p] = dict(skipped=too_slow[p])
            entry['inference'][f'{h}x{w}'] = res
            log(f'  {h}x{w}: ' + ', '.join(f'{p} {r["seconds"] * 1e3:.0f} ms (x{r["ratio"]:.2f})' if 'seconds' in r
                                           else f'{p} skipped' for p, r in res.items()))
        if train:
            entry['training'] = dict(size=list(train_size), batch=train_batch,
                                     modes=benchmark_training(net, train_size, train_batch, train_runs or runs, device,
                                                              slow_factor=slow_factor))
            log('  train step: ' + ', '.join(f'{m} {r["seconds"] * 1e3:.0f} ms'
                                             for m, r in entry['training']['modes'].items()))
        results['archs'][name] = entry
        del net
    if tiled:
        net = build_arch('NAFNet', builtin['NAFNet'], device)
        results['tiled'] = benchmark_tiled(net, tile_size, tile, overlap, device)
        log(f"tiled {tile_size[0]}x{tile_size[1]}: peak {results['tiled']['peak_mb']} MB")
    return results


def configs_from_option_file(path):
    """``({name: network_g}, (gt_size, gt_size), batch_size_per_gpu)`` of a BasicSR training option file.

    The name is the file's ``name`` (e.g. NAFNet-demo); training size and batch are those of its
    ``datasets.train`` (None where the file has no training set).
    """
    from .options import OptionsError, load_options
    opt = load_options(path)
    network = dict(opt.get('network_g') or {})
    if 'type' not in network:
        raise OptionsError(f'{path}: no network_g.type to benchmark')
    train = (opt.get('datasets') or {}).get('train') or {}
    size = train.get('gt_size')
    name = opt.get('name') or os.path.splitext(os.path.basename(path))[0]
    return {name: network}, ((size, size) if size else None), train.get('batch_size_per_gpu')


def _fmt(value, spec, missing='-'):
    return missing if value is None else format(value, spec)


def _matmul_bounds(results):
    """(arch, size, ms, eager / ms) where the MACs are run at the measured fp32 matmul rate."""
    rate = results['matmul_gflops'].get('fp32')
    bounds = []
    for name, entry in results['archs'].items():
        macs_per_pixel = entry['macs'] / (entry['macs_size'][0] * entry['macs_size'][1])
        for size, res in entry['inference'].items():
            eager = res.get('eager', {}).get('seconds')
            if not rate or not eager:
                continue
            h, w = (int(v) for v in size.split('x'))
            seconds = 2 * macs_per_pixel * h * w / (rate * 1e9)
            bounds.append((name, size, seconds * 1e3, eager / seconds))
    return bounds


def _macs_size(results):
    sizes = {'x'.join(map(str, entry['macs_size'])) for entry in results['archs'].values()}
    return sizes.pop() if len(sizes) == 1 else '(see JSON)'


def _one_run_mark(r, results):
    return ' (1 call)' if r.get('runs', results['runs']) == 1 and results['runs'] > 1 else ''


def format_markdown(results):
    """The benchmark results as markdown tables (machine, inference per arch/size/path, training, tiled)."""
    lines = [f"Machine: {results['machine']} ({results['device']}); median of {results['runs']} interleaved runs "
             'after a warm-up.',
             f"Matmul 2048^3: fp32 {results['matmul_gflops']['fp32']:.1f} GFLOP/s, "
             f"bf16 {results['matmul_gflops']['bf16']:.1f} GFLOP/s.",
             f"Peak memory: {results['peak_memory_method']}.", '',
             f'| arch | params (M) | GMACs {_macs_size(results)} | size | path | ms | speed-up vs eager | peak MB | ms/MP '
             '| GFLOP/s '
             '| % fp32 matmul | max abs diff |',
             '| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for name, entry in results['archs'].items():
        for size, res in entry['inference'].items():
            for p, r in res.items():
                if 'skipped' in r:
                    lines.append(f"| {name} | {entry['params'] / 1e6:.3f} | {entry['macs'] / 1e9:.3f} | {size} | {p} | "
                                 f"not run ({r['skipped']}) | | | | | | |")
                    continue
                frac = r.get('fraction_of_fp32_matmul')
                lines.append(
                    f"| {name} | {entry['params'] / 1e6:.3f} | {entry['macs'] / 1e9:.3f} | {size} | {p} | "
                    f"{r['seconds'] * 1e3:.1f}{_one_run_mark(r, results)} | {_fmt(r['ratio'], '.2f')}x | "
                    f"{_fmt(r['peak_mb'], '.0f')} | {r['ms_per_mp']:.0f} | {_fmt(r['gflops'], '.1f')} | {_fmt(frac and frac * 100, '.1f')} | "
                    f"{_fmt(r['max_abs_diff'], '.1e')} |")
    bounds = _matmul_bounds(results)
    if bounds:
        lines += ['', 'At the fp32 matmul rate: the time the MACs would take running as fast as the 2048^3 matmul '
                  'above, and the speed-up over eager that would be (a yardstick of the headroom, not a hard '
                  'limit: direct convolutions can beat one large matmul):', '']
        lines += [f'- {name} {size}: {ms:.0f} ms, {ratio:.2f}x eager' for name, size, ms, ratio in bounds]
    trained = [(name, entry['training']) for name, entry in results['archs'].items() if 'training' in entry]
    if trained:
        lines += ['', '| arch | train input | mode | ms / step | speed-up vs fp32 | peak MB |',
                  '| --- | --- | --- | ---: | ---: | ---: |']
    for name, t in trained:
        for mode, r in t['modes'].items():
            lines.append(f"| {name} | {t['batch']}x3x{t['size'][0]}x{t['size'][1]} | {mode} | "
                         f"{r['seconds'] * 1e3:.1f}{_one_run_mark(r, results)} | "
                         f"{_fmt(r['ratio'], '.2f')}x | {_fmt(r['peak_mb'], '.0f')} |")
    if results.get('tiled'):
        t = results['tiled']
        lines += ['', f"Tiled NAFNet {t['size'][0]}x{t['size'][1]} ({t['path']} path, tile {t['tile']}, overlap "
                  f"{t['overlap']}): peak {_fmt(t['peak_mb'], '.0f')} MB, {t['seconds_with_profiler']:.1f} s "
                  '(one run, under the memory profiler).']
    if results.get('slow_factor'):
        lines += ['', f"(1 call): slower than eager by more than {results['slow_factor']:g}x in its warm-up call, "
                  'so that call is the number (and the path is not run at the larger sizes).']
    return '\n'.join(lines) + '\n'


def write_json(results, path):
    """Write ``results`` to ``path`` through a temporary file renamed into place."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        json.dump(results, f, indent=2)
    os.replace(tmp, path)
