"""The export cache of ``--runtime onnxruntime|openvino``: a PyTorch spec is exported to ONNX once, beside its
checkpoint, and reused.

The file is ``<checkpoint stem>.<16 hex>.onnx``, the hex digits a hash of the weights as loaded, the arch options
and the exporter's versions, so a changed checkpoint or option gets a new file and an unchanged one is never
exported again. The weights are hashed once per network opened (:func:`check_export_cache` returns the path that
:func:`export_cached` then uses).
"""
import hashlib
import json
import os

import torch

from ..version import __version__
from .export import VERIFY_SIZES, VerificationError, export_onnx, verify_onnx
from .spec import ModelSpecError

__all__ = ['weights_digest', 'export_cache_path', 'check_export_cache', 'export_cached']

_EXPORT_CACHE_FORMAT = 1  # bump when the exported graph of the same weights changes


def weights_digest(net):
    """sha256 of every tensor of the state dict in order: the weights as loaded, whatever file they came from."""
    digest = hashlib.sha256()
    for name, tensor in net.state_dict().items():
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f'{name}:{flat.dtype}:{tuple(tensor.shape)};'.encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def export_cache_path(spec, net, extra=None):
    """Where the ONNX export of ``net`` (built from ``spec``) is cached: beside the checkpoint, or None without one.

    Args:
        spec (ModelSpec): A PyTorch spec.
        net (nn.Module): The network built from it (its weights are hashed); a TLC copy for the TLC row.
        extra (dict | None): What else changes the network (e.g. ``{'tlc_train_size': 256}``).

    Returns:
        str | None: ``<folder of the checkpoint>/<checkpoint stem>.<16 hex digits>.onnx``.
    """
    if not spec.checkpoint:
        return None
    options = dict(network=spec.network, extra=extra, format=_EXPORT_CACHE_FORMAT, basicsr_nafnet=__version__,
                   torch=torch.__version__)
    key = hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode())
    key.update(weights_digest(net).encode())
    stem = os.path.splitext(os.path.basename(spec.checkpoint))[0]
    return os.path.join(os.path.dirname(os.path.abspath(spec.checkpoint)), f'{stem}.{key.hexdigest()[:16]}.onnx')


def check_export_cache(spec, net, extra=None):
    """The cache path, after refusing a place that cannot be written (before anything is exported).

    Returns:
        str | None: See :func:`export_cache_path` (None: no checkpoint, nothing to key a cache by).
    """
    path = export_cache_path(spec, net, extra)
    if path and not os.path.isfile(path) and not os.access(os.path.dirname(path), os.W_OK):
        raise ModelSpecError(f'--runtime: the export cache beside {spec.checkpoint} cannot be written '
                             f'({os.path.dirname(path)} is not writable); export with scripts/export.py --out '
                             'elsewhere and pass that .onnx file as --model')
    return path


def export_cached(spec, net, path, runtime, log=None):
    """Export ``net`` to ``path`` unless it is there already, verified against PyTorch before it is kept."""
    if os.path.isfile(path):
        return path
    if log:
        log(f'{spec.name}: exporting to ONNX for {runtime}, once (cached as {path})')
    try:
        info = export_onnx(net, path, name=spec.name, verify=lambda tmp: verify_onnx(net, tmp, VERIFY_SIZES),
                           metadata=dict(source=str(spec.source)))
    except VerificationError as err:
        raise ModelSpecError(f'--model {spec.source}: the ONNX export was not kept: {err}') from None
    if log:
        log(f"{spec.name}: exported to {path} in {info['seconds']:.0f} s (verified against PyTorch)")
    return path
