"""Execution paths for inference: fusion, memory format, precision and compilation in one call.

:func:`prepare_for_inference` turns a trained network into a module that takes and returns float32
N x C x H x W tensors, whatever runs inside. The default is the fastest path that stays float32
(max abs difference to plain eager around 1e-6): the deploy-mode fused network (``net.fuse()``,
where the arch has one) in ``channels_last`` under ``torch.inference_mode``. Low precision (bf16,
fp16) is opt-in: it is only faster on hardware with native support (bf16 on CPUs with AVX-512 BF16
or AMX, fp16/bf16 on GPUs), see ``docs/speed.md``.
"""
import contextlib
import copy
import warnings

import torch
from torch import nn

from ..ops.host_memory import reused_host_memory

__all__ = ['PRECISIONS', 'InferenceRunner', 'prepare_for_inference', 'synchronize']

PRECISIONS = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}


def synchronize(device):
    """Wait for the device's queued work (CUDA); a no-op on the CPU. Call around anything timed."""
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize(device)


def _net_device(net):
    for tensor in net.parameters():
        return tensor.device
    return torch.device('cpu')


class InferenceRunner(nn.Module):
    """Runs a prepared network: float32 NCHW in, float32 NCHW out (on the input's device).

    Built by :func:`prepare_for_inference`. Outputs are inference tensors (made under
    ``torch.inference_mode``): use them for metrics and saving, not in an autograd graph.

    Args:
        net (nn.Module): The converted network (dtype and memory format already set).
        dtype (torch.dtype): The dtype inputs are converted to (the weights' dtype, or float32
            under autocast).
        channels_last (bool): Feed the network ``channels_last`` tensors.
        autocast_dtype (torch.dtype | None): Run under ``torch.autocast`` with this dtype.
        compile (bool): Run ``torch.compile(net)``; on any failure of the compiled module
            (no compiler, unsupported backend) warn once and run eagerly.
    """

    def __init__(self, net, dtype=torch.float32, channels_last=True, autocast_dtype=None, compile=False):
        super().__init__()
        self.net = net
        self.dtype = dtype
        self.channels_last = channels_last
        self.autocast_dtype = autocast_dtype
        self._compiled = None
        super().train(False)
        if compile:
            if hasattr(torch, 'compile'):
                try:
                    self._compiled = torch.compile(net)
                except Exception as err:  # compile() itself can fail on unsupported platforms
                    warnings.warn(f'torch.compile is unavailable ({err}); running eagerly')
            else:
                warnings.warn('this PyTorch has no torch.compile; running eagerly')

    @property
    def compiled(self):
        """True while a compiled module is in use."""
        return self._compiled is not None

    def train(self, mode=True):
        if mode:
            raise RuntimeError('an InferenceRunner from prepare_for_inference() cannot be trained; '
                               'train the original network')
        return super().train(False)

    def _run(self, x):
        if self._compiled is not None:
            try:
                return self._compiled(x)
            except Exception as err:  # e.g. inductor without a working C++ compiler
                warnings.warn(f'torch.compile failed at the first call ({type(err).__name__}: {err}); '
                              'running eagerly from now on')
                self._compiled = None
        return self.net(x)

    def forward(self, x):
        if not torch.is_tensor(x) or x.dim() != 4:
            raise ValueError(f'expected an N x C x H x W tensor, got {type(x).__name__} '
                             f'of shape {tuple(getattr(x, "shape", ()))}')
        if x.dtype != torch.float32:
            raise ValueError(f'expected a float32 input, got {x.dtype}; the runner converts to '
                             f'{self.dtype} itself')
        device = _net_device(self.net)
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        # on the CPU, freed feature maps are reused rather than faulted in again: 1.3x at 720p (ops/host_memory.py)
        host = reused_host_memory() if device.type == 'cpu' else contextlib.nullcontext()
        with host, torch.inference_mode():
            inp = x.to(device=device, dtype=self.dtype, memory_format=fmt)
            if self.autocast_dtype is not None:
                with torch.autocast(device.type, dtype=self.autocast_dtype):
                    out = self._run(inp)
            else:
                out = self._run(inp)
            return out.to(device=x.device, dtype=torch.float32, memory_format=torch.contiguous_format)


def prepare_for_inference(net, precision='fp32', channels_last=True, fuse=True, compile=False, autocast=False):
    """Convert a trained network for fast inference; the original is not modified.

    Args:
        net (nn.Module): Trained network, on the device it should run on.
        precision (str): 'fp32' (default, exact up to float rounding), 'bf16' or 'fp16'. With
            ``autocast=False`` the weights are converted to that dtype; with ``autocast=True`` they
            stay float32 and the network runs under ``torch.autocast``.
        channels_last (bool): Weights and activations in ``channels_last`` memory format.
            Default: True (faster for every arch measured, see ``docs/speed.md``).
        fuse (bool): Use ``net.fuse()`` (deploy-mode folding) where the arch has it; archs without
            it run unfused. Default: True.
        compile (bool): Wrap the network in ``torch.compile``; falls back to eager with a
            warning where it is unavailable or fails. Default: False (compiling takes minutes).
        autocast (bool): See ``precision``. Default: False (slower than converted weights on the
            CPU; measured in ``docs/speed.md``).

    Returns:
        InferenceRunner: Module taking and returning float32 N x C x H x W tensors.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision '{precision}'; choose one of: {', '.join(PRECISIONS)}")
    dtype = PRECISIONS[precision]
    if fuse and callable(getattr(net, 'fuse', None)):
        prepared = net.fuse()
    else:
        prepared = copy.deepcopy(net)
        prepared.requires_grad_(False)
        prepared.eval()
    if channels_last:
        prepared = prepared.to(memory_format=torch.channels_last)
    use_autocast = autocast and dtype != torch.float32
    if not use_autocast:
        prepared = prepared.to(dtype)
    return InferenceRunner(prepared, dtype=torch.float32 if use_autocast else dtype, channels_last=channels_last,
                           autocast_dtype=dtype if use_autocast else None, compile=compile)
