"""Training memory and time of NAFNet with our LayerNorm2d against a plain autograd LayerNorm2d.

``scripts/benchmark_layernorm.py`` runs :func:`benchmark_layernorm`. Plain autograd saves the
centred input twice (once for the square, once for the division), the normalised input and more
for backward; :class:`~basicsr_nafnet.archs.arch_util.LayerNorm2d` keeps the normalised input and
1/std only. Both networks get the same weights and the same batch; their training steps are
interleaved in one run, and peak memory is measured as in :mod:`.timing`.
"""
import copy
from collections import OrderedDict

import torch

from ..archs.arch_util import LayerNorm2d
from ..archs.nafnet_arch import NAFNet
from ..losses.psnr_loss import PSNRLoss
from .timing import PEAK_MEMORY_METHOD, machine_description, peak_memory, time_interleaved

__all__ = ['PlainLayerNorm2d', 'plain_layer_norm', 'with_plain_layernorm', 'benchmark_layernorm',
           'format_layernorm_markdown']


class PlainLayerNorm2d(LayerNorm2d):
    """LayerNorm2d written as plain autograd operations (the textbook form), same parameters.

    Args:
        channels (int): Number of channels C.
        eps (float): Added to the variance. Default: 1e-6.
    """

    def forward(self, x):
        return plain_layer_norm(x, self.weight, self.bias, self.eps)


def plain_layer_norm(x, weight, bias, eps):
    """LayerNorm2d as the official NAFNet code writes it: mean, ``(x - mu).pow(2).mean``, divide, scale, shift."""
    mu = x.mean(1, keepdim=True)
    var = (x - mu).pow(2).mean(1, keepdim=True)
    y = (x - mu) / (var + eps).sqrt()
    return weight.view(1, -1, 1, 1) * y + bias.view(1, -1, 1, 1)


def with_plain_layernorm(net):
    """A copy of ``net`` with every :class:`LayerNorm2d` replaced by a :class:`PlainLayerNorm2d` (same weights)."""
    plain = copy.deepcopy(net)
    for parent in list(plain.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, LayerNorm2d):
                replacement = PlainLayerNorm2d(child.weight.numel(), child.eps).to(child.weight)
                replacement.load_state_dict(child.state_dict())
                setattr(parent, name, replacement)
    return plain


def benchmark_layernorm(config=None, batch=4, size=(256, 256), runs=3, device='cpu'):
    """Peak memory and time of a NAFNet training step with our LayerNorm2d vs the plain one.

    Args:
        config (dict | None): NAFNet arguments. Default: the GoPro width-32 configuration.
        batch (int): Batch size. Default: 4.
        size (tuple[int, int]): Crop H, W. Default: (256, 256).
        runs (int): Timed steps per variant after one warm-up step. Default: 3.
        device (str): 'cpu' or 'cuda'.

    Returns:
        dict: ``machine``, ``peak_memory_method``, per variant ``seconds`` and ``peak_mb``, and the
        ``memory_ratio`` and ``time_ratio`` of ours over plain.
    """
    device = torch.device(device)
    config = config or dict(width=32, enc_blk_nums=[1, 1, 1, 28], middle_blk_num=1, dec_blk_nums=[1, 1, 1, 1])
    torch.manual_seed(0)
    ours = NAFNet(**config).to(device).train()
    with torch.no_grad():
        for pname, p in ours.named_parameters():
            if pname.endswith(('beta', 'gamma')):
                p.normal_(0, 0.1)
    nets = OrderedDict(custom=ours, plain=with_plain_layernorm(ours))
    lq = torch.rand(batch, 3, *size, device=device)
    gt = torch.rand(batch, 3, *size, device=device)
    loss_fn = PSNRLoss()
    steps = OrderedDict()
    for name, net in nets.items():
        optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4)

        def step(net=net, optimizer=optimizer):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(net(lq), gt).backward()
            optimizer.step()

        steps[name] = step
    seconds = time_interleaved(steps, runs, device, desc='layernorm train step')
    results = OrderedDict(machine=machine_description(device), peak_memory_method=PEAK_MEMORY_METHOD[device.type],
                          config=config, batch=batch, size=list(size), runs=runs)
    for name, step in steps.items():
        peak = peak_memory(step, device)
        results[name] = dict(seconds=seconds[name], peak_mb=peak / 2**20 if peak is not None else None)
    if results['custom']['peak_mb'] and results['plain']['peak_mb']:
        results['memory_ratio'] = results['custom']['peak_mb'] / results['plain']['peak_mb']
    results['time_ratio'] = results['custom']['seconds'] / results['plain']['seconds']
    return results


def format_layernorm_markdown(results):
    """The results of :func:`benchmark_layernorm` as a short markdown table."""
    shape = f"{results['batch']}x3x{results['size'][0]}x{results['size'][1]}"
    lines = [f"Machine: {results['machine']}. NAFNet training step (forward, PSNR loss, backward, AdamW), input "
             f"{shape}, median of {results['runs']} interleaved steps after a warm-up.",
             f"Peak memory: {results['peak_memory_method']}.", '',
             '| LayerNorm2d | s / step | peak MB |', '| --- | ---: | ---: |']
    for name in ('custom', 'plain'):
        r = results[name]
        peak = '-' if r['peak_mb'] is None else f"{r['peak_mb']:.0f}"
        lines.append(f"| {name} | {r['seconds']:.3f} | {peak} |")
    mem = results.get('memory_ratio')
    lines += ['', f"custom / plain: memory {'-' if mem is None else format(mem, '.3f')}x, "
              f"time {results['time_ratio']:.3f}x"]
    return '\n'.join(lines) + '\n'
