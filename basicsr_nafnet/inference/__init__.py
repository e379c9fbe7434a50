"""Inference: how a trained network runs on whole images.

``spec`` (which network: option file, ``ARCH:k=v@checkpoint``, recipe name, ``.onnx`` file or a dict) and ``open``
(:func:`open_model`, the one way from a spec to a runner: build, load, export cache, runtime choice);
``paths`` (execution paths: fused, ``channels_last``, bf16/fp16, ``torch.compile``), ``export`` (ONNX export,
verified against PyTorch), ``export_cache`` (exported once beside the checkpoint) and ``runtimes`` (ONNX Runtime /
OpenVINO runners with the same call contract; optional packages, imported when used), tiling (in
:mod:`basicsr_nafnet.ops.tiling`), ``ensemble`` (x8 self-ensemble) and ``deblur`` (your own photographs, files in
and out). Checkpoints are read by :mod:`basicsr_nafnet.engine.checkpoint`.
"""
from .ensemble import self_ensemble
from .open import RUNTIME_CHOICES, OpenedModel, open_model
from .paths import PRECISIONS, InferenceRunner, prepare_for_inference, synchronize
from .spec import ModelSpec, ModelSpecError, build_model, parse_model_spec
from ..ops.tiling import tile_starts, tiled_forward

__all__ = ['PRECISIONS', 'InferenceRunner', 'prepare_for_inference', 'synchronize', 'self_ensemble', 'tile_starts',
           'tiled_forward', 'RUNTIME_CHOICES', 'OpenedModel', 'open_model', 'ModelSpec', 'ModelSpecError',
           'build_model', 'parse_model_spec']
