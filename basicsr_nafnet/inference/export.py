"""ONNX export of the inference network, verified against PyTorch before the file is kept.

:func:`export_onnx` runs ``torch.onnx.export`` with the dynamo exporter (``torch.export`` underneath) on the
inference-only network: ``net.fuse()`` where the arch has it. Batch, height and width stay dynamic unless a
static size is asked for; the archs pad to their multiple and crop back inside the graph, so any size runs.
The TLC archs (NAFNetLocal, BaselineLocal) export through a branch-free formulation of their local pooling that
``torch.export`` selects itself (see :mod:`basicsr_nafnet.archs.tlc`). The legacy TorchScript exporter
(``dynamo=False``) is not used: it bakes in the example's sizes where the TLC pooling decides on them.

The file is written atomically, and only once ``verify`` (a check on the temporary file, e.g. ONNX Runtime
against PyTorch, :func:`verify_onnx`) has passed: a failed export or check leaves nothing behind.
"""
import contextlib
import copy
import logging
import time
import warnings

import torch
from torch import nn

from ..errors import UserError, one_line
from ..fileio import atomic_open
from ..version import __version__
from .runtimes import check_onnx_file, make_runtime_runner, require

__all__ = ['DEFAULT_OPSET', 'MIN_OPSET', 'VERIFY_SIZES', 'VERIFY_TOLERANCE', 'ExportError', 'VerificationError',
           'exportable_network', 'export_onnx', 'verify_onnx', 'describe_verification']

MIN_OPSET = DEFAULT_OPSET = 18  # the dynamo exporter's own operator set; lower ones go through a lossy converter
# batch x height x width checked after exporting: one odd size, larger than the TLC window of a 256-pixel training
# size at every level (384 at full resolution), so the GoPro TLC archs pool locally along both axes, and a batch of two
VERIFY_SIZES = ((1, 397, 517), (2, 128, 192))
VERIFY_TOLERANCE = 1e-4
_MAX_SIDE = 16384
_MAX_BATCH = 1024


class ExportError(UserError):
    """A network that cannot be exported, with the arch and the exporter's reason."""


class VerificationError(Exception):
    """An exported graph that computes something else than PyTorch (beyond the tolerance)."""


def exportable_network(net):
    """The inference-only copy of ``net`` that is exported: fused where the arch has ``fuse()``, eval, float32, CPU.

    Returns:
        tuple[nn.Module, bool]: The network and whether it was fused.
    """
    fused = callable(getattr(net, 'fuse', None))
    out = net.fuse() if fused else copy.deepcopy(net).requires_grad_(False)
    return out.eval().float().cpu(), fused


def _input_channels(net):
    conv = next((m for m in net.modules() if isinstance(m, nn.Conv2d)), None)
    return conv.in_channels if conv is not None else 3


@contextlib.contextmanager
def _quiet_exporter():
    """Keep the exporter's progress lines and the symbolic-shape solver's warnings off the user's terminal."""
    logger = logging.getLogger('torch.fx.experimental.symbolic_shapes')
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            yield
    finally:
        logger.setLevel(level)


def _name_output_dims(model):
    """Give the output the input's dim names: the exporter names them after its crop expression (``Min(...)``)."""
    inp, out = model.graph.input[0].type.tensor_type.shape.dim, model.graph.output[0].type.tensor_type.shape.dim
    for d_out, d_in in zip(out, inp):
        if d_in.dim_param:
            d_out.dim_param = d_in.dim_param


def export_onnx(net, path, opset=None, static=None, name=None, metadata=None, verify=None):
    """Export the inference network of ``net`` to ``path`` (ONNX, one self-contained file), atomically.

    Args:
        net (nn.Module): The trained network (not modified).
        path (str): The ``.onnx`` file to write.
        opset (int | None): ONNX operator set; None: :data:`DEFAULT_OPSET`.
        static (tuple[int, int] | None): Export for 1 x C x H x W inputs of this H x W only; None: dynamic batch,
            height and width (named ``batch``, ``height``, ``width``).
        name (str | None): What to call the network in messages (default: its class name).
        metadata (dict | None): Extra ``metadata_props`` of the model (strings).
        verify (callable | None): ``verify(temporary_path)`` runs on the complete file before it is renamed to
            ``path``; if it raises, nothing is written.

    Returns:
        dict: ``seconds`` (export), ``bytes``, ``opset``, ``fused``, ``dynamic``, ``verify`` (what ``verify``
        returned).

    Raises:
        MissingPackageError: onnx or onnxscript is not installed.
        ExportError: The exporter cannot capture the network; the message names it and gives the reason.
    """
    onnx = require('onnx', 'exporting to ONNX')
    require('onnxscript', 'exporting to ONNX')
    name = name or type(net).__name__
    opset = opset or DEFAULT_OPSET
    model, fused = exportable_network(net)
    channels = _input_channels(model)
    if static:
        example = torch.rand(1, channels, *static)
        dynamic_shapes = None
    else:
        from torch.export import Dim
        # batch 2 in the example: a size of 1 would be taken as a constant
        example = torch.rand(2, channels, 37, 53)
        dynamic_shapes = ({0: Dim('batch', min=1, max=_MAX_BATCH), 2: Dim('height', min=2, max=_MAX_SIDE),
                           3: Dim('width', min=2, max=_MAX_SIDE)}, )
    start = time.perf_counter()
    try:
        with _quiet_exporter(), torch.no_grad():
            program = torch.onnx.export(model, (example, ), dynamo=True, dynamic_shapes=dynamic_shapes,
                                        input_names=['input'], output_names=['output'], opset_version=opset,
                                        external_data=False, verbose=False)
    except Exception as err:  # the exporter's errors are long reports: keep the summary line
        text = str(err)
        summary = text[text.find('Exception summary'):] if 'Exception summary' in text else text
        summary = one_line(summary, 400) or type(err).__name__
        raise ExportError(f'{name} cannot be exported to ONNX: {summary}') from None
    seconds = time.perf_counter() - start
    proto = program.model_proto
    if not static:
        _name_output_dims(proto)
    props = dict(metadata or {}, exported_by=f'basicsr_nafnet {__version__}', torch=torch.__version__,
                 network=name, fused=str(fused))
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = str(key), str(value)
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()  # one file: protobuf's 2 GB limit is far above NAFNet-width64 (272 MB)
    checked = None
    with atomic_open(path, 'wb') as f:
        f.write(data)
        f.flush()
        if verify is not None:
            checked = verify(f.name)
    return dict(seconds=seconds, bytes=len(data), opset=opset, fused=fused, dynamic=not static, verify=checked)


def verify_onnx(net, path, sizes=VERIFY_SIZES, runtime='onnxruntime', tolerance=VERIFY_TOLERANCE, threads=None):
    """Run ``path`` in a runtime and ``net`` (unfused, float32 eager) on the same random inputs; compare.

    Args:
        net (nn.Module): The PyTorch network the file was exported from.
        path (str): The ``.onnx`` file.
        sizes (sequence of (N, H, W)): Inputs to compare on.
        runtime (str): 'onnxruntime' or 'openvino'.
        tolerance (float): Largest max abs difference accepted, for outputs in image range; scaled by the
            output's largest magnitude where that exceeds 1 (untrained networks).
        threads (int | None): Runtime threads.

    Returns:
        list[dict]: Per size: ``shape``, ``max_abs_diff``, ``limit``.

    Raises:
        VerificationError: A difference above its limit; the message names the file, size and both numbers.
    """
    check_onnx_file(path, 'exported file')
    runner = make_runtime_runner(path, runtime, threads=threads, key='exported file')
    channels = _input_channels(net)
    reference = copy.deepcopy(net).eval().float().cpu()
    generator = torch.Generator().manual_seed(0)
    results = []
    for n, h, w in sizes:
        x = torch.rand(n, channels, h, w, generator=generator)
        with torch.no_grad():
            expected = reference(x)
        got = runner(x)
        diff = (got - expected).abs().max().item()
        limit = tolerance * max(1.0, expected.abs().max().item())
        results.append(dict(shape=[n, channels, h, w], max_abs_diff=diff, limit=limit))
        if not diff <= limit:  # also catches NaN
            raise VerificationError(f'{runtime} output of the exported {type(net).__name__} differs from PyTorch '
                                    f'float32 by {diff:.3g} at {n}x{channels}x{h}x{w} (limit {limit:.3g})')
    return results


def describe_verification(results, runtime='onnxruntime'):
    """One line: the max abs difference per size."""
    parts = [f"{r['max_abs_diff']:.2g} at {'x'.join(map(str, r['shape']))}" for r in results]
    return f'{runtime} vs PyTorch float32: max abs diff ' + ', '.join(parts) + \
        f" (limit {min(r['limit'] for r in results):.0e})"
