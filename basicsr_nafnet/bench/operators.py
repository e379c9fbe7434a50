"""Operators launched per inference call and per training step, counted with ``torch.profiler`` on any device.

On a GPU that is launch-bound (NAFNet-width32 on an H200), time follows the number of kernels launched, so
the count measured on a CPU predicts which way a change moves the GPU. Counted: ATen operators with no ATen
operator below them (each roughly one kernel; a convolution or a foreach/fused operator counts as one, however
the CPU runs it inside), and those among them that compute (views, allocations and
other metadata-only operators left out). Counts do not depend on the image size (once it is a multiple of
the network's padding), so a small input gives the GoPro configuration's counts in seconds.

Compared: inference, plain float32 NCHW eager (how the official code tests) against the default fused
path; training, ``ImageRestorationModel.optimize_parameters`` with the official recipe (as the model runs
it on this device, and with AdamW ``foreach=True``, PyTorch's default on CUDA) against the whole step of
:class:`.graph_capture.WholeStep` (``clip_grad_norm_`` foreach, fused AdamW), uncaptured.
"""
import copy
import os
from collections import OrderedDict

import torch

from ..inference import prepare_for_inference
from .configs import build_arch
from .graph_capture import WholeStep
from .training import gopro_recipe, training_model

__all__ = ['METADATA_OPS', 'count_operators', 'operator_counts', 'format_operator_counts']

# operators that launch no kernel: views, allocations, shape bookkeeping
METADATA_OPS = frozenset(f'aten::{name}' for name in (
    'empty', 'empty_strided', 'empty_like', 'view', 'as_strided', 'reshape', '_reshape_alias', '_unsafe_view', 't',
    'transpose', 'permute', 'expand', 'expand_as', 'slice', 'select', 'unsqueeze', 'squeeze', 'detach', 'alias',
    'resize_', 'split', 'chunk', 'narrow', 'lift_fresh', 'result_type', 'unbind', 'flatten', 'contiguous', 'to',
    'set_', 'size', 'stride', 'numel', 'dim', 'resolve_conj', 'resolve_neg', '_nnpack_available'))
# counted as one launch, without what runs inside them on the CPU: a foreach or fused multi-tensor operator is a
# few kernels on CUDA however many tensors it takes, a convolution (forward or backward) one cuDNN call, where the
# CPU backends loop over tensors or unfold, fill and copy
_ONE_LAUNCH = ('aten::_foreach_', 'aten::_fused_', 'aten::convolution')


def count_operators(fn):
    """ATen operators one call of ``fn`` runs, after one call outside the count (lazy state, caches).

    Returns:
        dict: ``leaf`` (operators with no ATen operator inside them; foreach, fused and convolution
        operators count as one, see ``_ONE_LAUNCH``), ``compute`` (leaf ones that are not in
        :data:`METADATA_OPS`), ``top_level`` (ATen calls made from Python) and the ten most frequent leaves.
    """
    os.environ.setdefault('KINETO_LOG_LEVEL', '6')  # Kineto's start/stop markers otherwise go to stderr
    from torch.profiler import ProfilerActivity, profile
    fn()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    events = [e for e in prof.events() if e.name.startswith('aten::')]

    def ancestors(event):
        parent = event.cpu_parent
        while parent is not None:
            yield parent
            parent = parent.cpu_parent

    inside = {id(e) for e in events if any(a.name.startswith(_ONE_LAUNCH) for a in ancestors(e))}
    leaves = [e.name for e in events if id(e) not in inside and (
        e.name.startswith(_ONE_LAUNCH) or not any(c.name.startswith('aten::') for c in e.cpu_children))]

    def top(event):
        return not any(a.name.startswith('aten::') for a in ancestors(event))

    frequent = OrderedDict()
    for name in sorted(set(leaves), key=lambda n: -leaves.count(n))[:10]:
        frequent[name] = leaves.count(name)
    return OrderedDict(leaf=len(leaves), compute=sum(1 for n in leaves if n not in METADATA_OPS),
                       top_level=sum(1 for e in events if top(e)), most_frequent=frequent)


def operator_counts(network, size=(64, 64), batch=1, device='cpu', recipe=None):
    """Counts (see :func:`count_operators`) of inference and training on ``network`` (``network_g`` options).

    Returns:
        dict: ``inference`` and ``training``, each ``{way: counts}`` with ``ratio`` (compute operators
        against the first way, the official one), and the setting.
    """
    device = torch.device(device)
    recipe = recipe or gopro_recipe()
    net = build_arch(network['type'], {k: v for k, v in network.items() if k != 'type'}, device)
    x = torch.rand(1, 3, *size, device=device)
    default = prepare_for_inference(net)

    def eager():
        with torch.no_grad():
            net(x)

    inference = OrderedDict(eager=count_operators(eager), default=count_operators(lambda: default(x)))
    torch.manual_seed(2)
    data = dict(lq=torch.rand(batch, 3, *size, device=device), gt=torch.rand(batch, 3, *size, device=device))
    foreach = copy.deepcopy(recipe)
    foreach['optim_g'] = dict(foreach['optim_g'], foreach=True)
    training = OrderedDict()
    for name, way in (('optimize_parameters', recipe), ('optimize_parameters_foreach_adamw', foreach)):
        model = training_model(network, 'fp32', device, way)

        def reference(model=model):
            model.feed_data(data)
            model.optimize_parameters(1)

        training[name] = count_operators(reference)
    step = WholeStep(training_model(network, 'fp32', device, recipe), recipe, data['lq'].shape, device)
    training['whole_step'] = count_operators(lambda: step((data['lq'], data['gt'])))
    for table in (inference, training):
        first = next(iter(table.values()))['compute']
        for counts in table.values():
            counts['ratio'] = counts['compute'] / first
    return OrderedDict(network=dict(network), size=list(size), batch=batch, device=str(device),
                       inference=inference, training=training)


def format_operator_counts(result):
    """Markdown table of :func:`operator_counts`."""
    lines = [f"Operators per call, {result['network']['type']} {result['network']}, input {result['size']}, "
             f"training batch {result['batch']}, {result['device']}:", '',
             '| what | way | compute ops | leaf ops | top-level ops | vs the first way |',
             '| --- | --- | ---: | ---: | ---: | ---: |']
    for what in ('inference', 'training'):
        for way, c in result[what].items():
            lines.append(f"| {what} | {way} | {c['compute']} | {c['leaf']} | {c['top_level']} | {c['ratio']:.2f}x |")
    return '\n'.join(lines)
