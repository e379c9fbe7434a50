"""Inference: how a trained network runs on whole images.

``paths`` (execution paths: fused, ``channels_last``, bf16/fp16, ``torch.compile``), ``export`` (ONNX export,
verified against PyTorch) and ``runtimes`` (ONNX Runtime / OpenVINO runners with the same call contract; optional
packages, imported when used), ``tiling`` (frames of any size in bounded memory), ``ensemble`` (x8 self-ensemble)
and ``deblur`` (your own photographs, files in and out). Checkpoints are read by
:mod:`basicsr_nafnet.engine.checkpoint`.
"""
from .ensemble import self_ensemble
from .paths import PRECISIONS, InferenceRunner, prepare_for_inference, synchronize
from ..ops.tiling import tile_starts, tiled_forward

__all__ = ['PRECISIONS', 'InferenceRunner', 'prepare_for_inference', 'synchronize', 'self_ensemble', 'tile_starts',
           'tiled_forward']
