"""The leaderboard: every requested network and variant scored on one test set by the GoPro protocol.

Rows: ``input`` (the blurred images themselves, the floor), then for each ``--model`` a ``plain``
row and one row per requested option (TLC, tiled, x8 self-ensemble), then the published results
if asked for. Per-image results are cached under ``<out>/cache`` so an interrupted run resumes.
"""
import copy
import hashlib
import json
import os
import re
import resource

import torch
from torch import nn

from ..fileio import atomic_write
from ..inference import open_model, parse_model_spec
from ..inference.open import check_runtime
from ..inference.runtime_choice import AUTO, Workload
from ..inference.runtimes import onnx_parameter_count
from ..ops.tiling import check_tiling

from . import report
from .complexity import count_macs, count_params
from .published import published_rows
from .runner import Variant, evaluate_variant, make_forward, summarize
from .testset import open_testset

__all__ = ['run_leaderboard', 'variants_for', 'global_pooling_warning', 'testset_label']


_CACHE_NAME = re.compile(r'[0-9a-f]{12}\.jsonl?')


def _digest(obj):
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _file_identity(path):
    if not path:
        return None
    st = os.stat(path)
    return [os.path.abspath(path), st.st_size, int(st.st_mtime)]


def variants_for(tlc=False, tile=None, overlap=32, x8=False):
    """The rows to produce per model: plain, then one per requested option."""
    rows = [Variant()]
    if tlc:
        rows.append(Variant(tlc=True))
    if tile:
        rows.append(Variant(tile=tile, overlap=overlap))
    if x8:
        rows.append(Variant(x8=True))
    return rows


def _with_tlc(net, train_size):
    """A TLC copy of ``net``, or None when it has no global pooling to convert (or already uses TLC)."""
    from basicsr_nafnet.archs.tlc import LocalAvgPool2d, convert_to_local

    if not hasattr(net, 'stages_by_level') or any(isinstance(m, LocalAvgPool2d) for m in net.modules()):
        return None
    local = convert_to_local(copy.deepcopy(net), (1, 3, train_size, train_size))
    return local if any(isinstance(m, LocalAvgPool2d) for m in local.modules()) else None


def _uses_tlc(net):
    from basicsr_nafnet.archs.tlc import LocalAvgPool2d
    return any(isinstance(m, LocalAvgPool2d) for m in net.modules())


def _pools_globally(net):
    """True when a block of ``net`` averages over the whole feature map (channel attention without TLC)."""
    if not hasattr(net, 'stages_by_level'):
        return False
    return any(isinstance(m, nn.AdaptiveAvgPool2d) and m.output_size in (1, (1, 1))
               for _, stage in net.stages_by_level() for m in stage.modules())


def global_pooling_warning(name, net, frame_hw, train_size):
    """The warning for scoring ``net`` plainly on frames larger than its training crops, or None.

    A NAFNet or Baseline block scales its channels by their average over the whole input. Trained on
    ``train_size`` crops, it sees other statistics on a full frame; the published GoPro numbers come from the
    TLC variants (NAFNetLocal, the official test files), which average over a window of 1.5x the crop.

    Args:
        name (str): The row name. net (nn.Module): The network as scored.
        frame_hw (tuple[int, int]): Height and width of the test frames.
        train_size (int): Side of the square training crops (``--tlc-train-size``).
    """
    h, w = frame_hw
    if not _pools_globally(net) or (h <= train_size and w <= train_size):
        return None
    return (f'{name}: plain {type(net).__name__} scored on {w}x{h} frames, larger than its {train_size}x{train_size} '
            'training crops: its channel attention averages over the whole frame, unlike in training. Published '
            'GoPro numbers use the TLC variants (NAFNetLocal/BaselineLocal, the official test files); a released '
            'NAFNet width-64 checkpoint scored plainly gives about 33.08 dB instead of 33.71 dB. Add --tlc for a TLC '
            'row (and --tlc-train-size if it was trained on other crops).')


def _peak_memory_mb(device):
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cached_json(path, compute):
    if path and os.path.isfile(path):
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    value = compute()
    if path:
        atomic_write(path, json.dumps(value))
    return value


def run_leaderboard(data,
                    models=(),
                    tlc=False,
                    tlc_train_size=256,
                    tile=None,
                    overlap=32,
                    x8=False,
                    ssim_2d=False,
                    published=False,
                    out_dir=None,
                    device='cpu',
                    resume=True,
                    log=print,
                    precision='fp32',
                    compile=False,
                    runtime=None):
    """Score networks on a paired test set and build the leaderboard.

    Args:
        data (str): Test set (see :func:`~basicsr_nafnet.evaluation.testset.open_testset`).
        models (sequence[str | dict]): Model specs (see :mod:`~basicsr_nafnet.inference.spec`).
        tlc (bool): Add a TLC row per model. tlc_train_size (int): its training crop size.
        tile (int | None): Add a tiled-inference row per model with this tile. overlap (int): its overlap.
        x8 (bool): Add an x8 self-ensemble row per model.
        ssim_2d (bool): Add BasicSR's per-channel 2-D SSIM as a second column.
        published (bool): Append published GoPro results (marked as not measured here).
        out_dir (str | None): Write leaderboard.json/.csv, per_image.csv and the cache here.
        device (str): Torch device for the networks.
        resume (bool): Reuse cached per-image results. Default: True.
        log (callable): Where progress notes go.
        precision (str): How the networks run: 'fp32' (default: the fastest float32 path, fused and
            channels_last, see :func:`~basicsr_nafnet.inference.prepare_for_inference`), 'bf16' or 'fp16'.
        compile (bool): ``torch.compile`` each network (its first image then includes the compile
            time; the runtime column is a median, so it does not).
        runtime (str | None): 'onnxruntime' or 'openvino': run every PyTorch spec there, exported once and
            cached beside its checkpoint (see :func:`~basicsr_nafnet.inference.open_model`);
            ``.onnx`` specs run on ONNX Runtime unless this says 'openvino'. None or 'torch': PyTorch. 'auto':
            per model, the fastest exact one measured on this machine at the test set's size (PyTorch off the CPU).

    Returns:
        dict: ``rows`` (list of dicts), ``per_image`` (list of dicts), ``markdown`` (str), ``paths``
        (written files, or None).
    """
    device = torch.device(device)
    check_tiling(tile, overlap, 'tile', 'overlap')
    testset = open_testset(data)
    # every spec is parsed and every model opened before the long work, so a typo fails fast; networks wait on
    # the CPU and go to ``device`` one at a time
    specs = [parse_model_spec(m) for m in models]
    check_runtime(specs, runtime, precision, compile)
    frame_hw = testset.read(testset.keys[0])[0].shape[:2] if specs and testset.keys else (0, 0)
    if runtime == AUTO and device.type != 'cpu':
        runtime = None  # the runtimes run on the CPU
    workload = Workload.of_images([frame_hw] * len(testset.keys), tile) if testset.keys else None
    opened = [open_model(spec, 'cpu', runtime, precision, compile, log=log, workload=workload) for spec in specs]
    cache_dir = os.path.join(out_dir, 'cache') if out_dir else None
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        if not resume:  # only the files this function writes there: <12 hex digits>.json / .jsonl
            for f in os.listdir(cache_dir):
                if _CACHE_NAME.fullmatch(f):
                    os.remove(os.path.join(cache_dir, f))
    data_id = os.path.abspath(data)

    def cache_file(fingerprint, suffix):
        return os.path.join(cache_dir, f'{_digest(fingerprint)}.{suffix}') if cache_dir else None

    rows, per_image = [], []
    dataset_label = testset_label(testset)

    def add_row(name, variant_label, records, **extra):
        row = dict(name=name, variant=variant_label, **summarize(records), dataset=dataset_label)
        row.update(extra)
        rows.append(row)
        per_image.extend(dict(name=name, variant=variant_label, **r) for r in records)

    records = evaluate_variant(None,
                               testset,
                               device,
                               cache_file(['input', data_id, ssim_2d], 'jsonl'),
                               ssim_2d,
                               desc='input',
                               identity=True)
    add_row('input',
            'identity',
            records,
            params=0,
            macs=0,
            runtime_s=0.0,
            peak_mem_mb=None,
            device=None,
            source='measured here',
            note='the blurred input itself (floor)',
            checkpoint=None)

    for model in opened:
        spec, net, spec_runtime = model.spec, model.net, model.runtime
        pooling_warning = None
        if spec.onnx:
            model_id = [None, _file_identity(spec.onnx), None]
            size = _cached_json(cache_file(['size', model_id], 'json'),
                                lambda: dict(params=onnx_parameter_count(spec.onnx), macs=None))
        else:
            net = net.to(device if spec_runtime is None else 'cpu')
            model_id = [spec.network, _file_identity(spec.checkpoint), spec.key]
            size = _cached_json(cache_file(['size', spec.network], 'json'),
                                lambda: dict(params=count_params(net), macs=count_macs(net)))
            pooling_warning = global_pooling_warning(spec.name, net, frame_hw, tlc_train_size)
            if pooling_warning and not tlc:
                log(f'warning: {pooling_warning}')
        for variant in variants_for(tlc, tile, overlap, x8):
            variant_net, extra = net, None
            if variant.tlc:
                if spec.onnx:
                    log(f'{spec.name}: no TLC row (the graph of an ONNX file is fixed; export a NAFNetLocal or '
                        'BaselineLocal, or pass the PyTorch spec with --runtime)')
                    continue
                variant_net = _with_tlc(net, tlc_train_size)
                if variant_net is None:
                    log(f'{spec.name}: no TLC row (the arch has no global pooling to convert, or already uses TLC)')
                    continue
                extra = dict(tlc_train_size=tlc_train_size)
            if device.type == 'cuda':
                torch.cuda.reset_peak_memory_stats(device)
            fingerprint = [
                model_id,
                variant.fingerprint(), tlc_train_size if variant.tlc else None, data_id,
                str(device), ssim_2d, precision
            ] + (['compile'] if compile else []) + ([spec_runtime] if spec_runtime else [])
            runner = model.runner_for(variant_net, extra)
            records = evaluate_variant(make_forward(runner, variant),
                                       testset,
                                       device,
                                       cache_file(fingerprint, 'jsonl'),
                                       ssim_2d,
                                       desc=f'{spec.name} {variant.label}')
            peak = _cached_json(cache_file(fingerprint + ['peak'], 'json'), lambda: _peak_memory_mb(device))
            label = variant.label
            if label == 'plain' and net is not None and _uses_tlc(net):
                label = 'TLC (arch)'  # e.g. NAFNetLocal from an official test option file
            if spec_runtime:
                label += f' ({spec_runtime})'
            add_row(spec.name,
                    label,
                    records,
                    params=size['params'],
                    macs=size['macs'] * (8 if variant.x8 else 1) if size['macs'] is not None else None,
                    peak_mem_mb=peak,
                    device=runner.device_name if spec_runtime else _device_name(device),
                    precision=precision,
                    engine=spec_runtime or 'torch',
                    source='measured here',
                    note=_row_note(spec, variant, pooling_warning),
                    checkpoint=model.checkpoint)
        if net is not None:
            net.cpu()
    if published:
        rows.extend(published_rows())

    markdown = report.markdown_table(rows, ssim_2d, dataset_label)
    paths = report.write_outputs(out_dir, rows, per_image) if out_dir else None
    return dict(rows=rows, per_image=per_image, markdown=markdown, paths=paths)


def _row_note(spec, variant, pooling_warning):
    notes = [] if spec.checkpoint or spec.onnx else ['untrained (random weights)']
    if pooling_warning and not variant.tlc and not variant.tile:
        notes.append('global pooling over frames larger than the training crops; published numbers use TLC (--tlc)')
    return '; '.join(notes) or None


_GENERIC_SPLITS = {'test', 'val', 'valid', 'validation', 'eval', 'input', 'blur'}


def testset_label(testset):
    """The test set as tables name it: its folder (with the parent where the folder is only a split's name, e.g.
    ``synthetic_gopro/test``), its size and its layout."""
    root = os.path.normpath(os.path.abspath(testset.root))
    name = os.path.basename(root)
    if name.lower() in _GENERIC_SPLITS:
        name = f'{os.path.basename(os.path.dirname(root))}/{name}'
    return f'{name} ({len(testset)} pairs, {testset.layout})'


def _device_name(device):
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    threads = torch.get_num_threads()
    return f"cpu ({threads} thread{'' if threads == 1 else 's'})"
