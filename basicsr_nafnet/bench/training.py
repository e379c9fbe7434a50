"""The training-step benchmark: forward, PSNR loss, backward and an AdamW step per mode (``scripts/benchmark.py``)."""
import copy
from collections import OrderedDict

import torch

from ..losses.psnr_loss import PSNRLoss
from .timing import peak_memory, time_guarding_slow

__all__ = ['benchmark_training']


def benchmark_training(net, size, batch, runs, device, modes=('fp32', 'channels_last', 'bf16_autocast'),
                       slow_factor=None):
    """Seconds and peak memory of one training step (forward, PSNR loss, backward, AdamW step) per mode.

    Modes: ``fp32`` (NCHW), ``channels_last`` (float32), ``bf16_autocast`` (NCHW, autocast bf16 on
    the CPU, fp16 on CUDA). Each mode trains its own copy of ``net``. ``slow_factor``: as in
    :func:`benchmark_inference`, against the fp32 step.
    """
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
    seconds, slow, _ = time_guarding_slow(steps, 'fp32', runs, device, 'train step', slow_factor)
    results = OrderedDict()
    for mode, step in steps.items():
        peak = peak_memory(step, device)
        results[mode] = dict(seconds=seconds[mode], runs=1 if mode in slow else runs,
                             ratio=seconds['fp32'] / seconds[mode] if 'fp32' in seconds else None,
                             peak_mb=peak / 2**20 if peak is not None else None)
    return results
