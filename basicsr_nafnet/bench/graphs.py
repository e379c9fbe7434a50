"""The GPU check's ``graphs`` step: inference and the whole training step as CUDA graphs, against plain eager.

A CUDA graph records the kernels of one call at fixed shapes once and replays them with one launch, which
is what a launch-bound network needs (NAFNet-width32 on an H200: 33 ms at 720p, 30 ms at 256x256).
Capture costs seconds, where ``torch.compile`` cost ~106 s per shape. Measured:

- inference at each size: plain float32 NCHW eager (the reference), the default fused path, the fused
  path replayed from a graph (static input, copy in, replay, copy the output out), bf16 + graph, and
  tiled 720p (one graph per tile shape, blending eager) against the same tiling without graphs;
- the training step at a static batch: ``ImageRestorationModel.optimize_parameters`` (the reference),
  our whole step (forward, PSNR loss, backward, ``clip_grad_norm_(foreach=True)``, fused capturable
  AdamW) without a graph, and the same captured whole: float32 and under bf16 autocast;
- equal learning: the reference, our step and its graph from the same weights on the same batches,
  TF32 off: the largest weight difference and the last losses.

In a dry run without CUDA every "graph" is the plain callable (``captured`` false in the results).
"""
import contextlib
from collections import OrderedDict

import torch

from ..inference import prepare_for_inference, synchronize
from ..ops.tiling import tiled_forward
from .configs import build_arch
from .graph_capture import ShapeGraphs, WholeStep
from .timing import time_interleaved
from .training import _batches, gopro_recipe, learning_pairs, training_model

__all__ = ['graph_settings', 'step_graphs']


def graph_settings(dry_run):
    """Sizes and lengths of the ``graphs`` step: GoPro-sized, or tiny in a dry run."""
    if dry_run:
        return dict(sizes=[(32, 32)], tiled_size=(48, 80), tile=32, overlap=8, batch=2, train_size=(32, 32), runs=2,
                    learn_steps=5, learn_pairs=4, warmup=2)
    return dict(sizes=[(256, 256), (720, 1280)], tiled_size=(720, 1280), tile=256, overlap=32, batch=4,
                train_size=(256, 256), runs=15, learn_steps=50, learn_pairs=32, warmup=3)


def _guarded(result, key, save, fn):
    """``result[key] = fn()``, or the error it raised; ``save()`` either way."""
    try:
        result[key] = fn()
    except Exception as err:  # one failed measurement must not cost the others
        result[key] = dict(error=f'{type(err).__name__}: {err}'[:1000])
    save()


def _inference(net, size, runs, device, tiled=None):
    torch.manual_seed(1)
    x = torch.rand(1, 3, *size, device=device)
    fused, bf16 = prepare_for_inference(net), prepare_for_inference(net, precision='bf16')

    def eager(x):
        with torch.no_grad():
            return net(x)

    graphed, graphed_bf16 = ShapeGraphs(fused), ShapeGraphs(bf16)
    calls = OrderedDict(eager=eager, default=fused, graph=graphed, bf16_graph=graphed_bf16)
    if tiled:
        calls.update(tiled_default=lambda x: tiled_forward(fused, x, *tiled),
                     tiled_graph=lambda x: tiled_forward(graphed, x, *tiled))
    outputs, results = _first_calls(OrderedDict((name, (lambda fn=fn: fn(x))) for name, fn in calls.items()))
    seconds = time_interleaved({name: (lambda fn=fn: fn(x)) for name, fn in calls.items() if name in outputs}, runs,
                               device, desc=f'graphs {size[0]}x{size[1]}')
    for name in seconds:
        ref = 'tiled_default' if name == 'tiled_graph' else 'eager'
        results[name] = dict(ms=seconds[name] * 1e3, ratio=seconds['eager'] / seconds[name],
                             max_abs_diff=(outputs[name].float() - outputs[ref].float()).abs().max().item(),
                             diff_against=ref)
    for name, runner in (('graph', graphed), ('bf16_graph', graphed_bf16), ('tiled_graph', graphed)):
        if name in results:
            results[name]['captured'] = runner.captured
    if tiled and 'tiled_graph' in results:
        results['tiled_graph'].update(tile=tiled[0], overlap=tiled[1])
    return results


def _first_calls(calls):
    """Each call's output (capturing its graphs: not timed), and ``{name: {'error': ...}}`` for those that failed."""
    outputs, failed = OrderedDict(), OrderedDict()
    for name, call in calls.items():
        try:
            outputs[name] = call()
        except Exception as err:  # e.g. an op that cannot be captured: the other paths still run
            failed[name] = dict(error=f'{type(err).__name__}: {err}'[:1000])
    return outputs, failed


def _training(network, recipe, cfg, device):
    batch = (cfg['batch'], 3, *cfg['train_size'])
    torch.manual_seed(2)
    data = (torch.rand(batch, device=device), torch.rand(batch, device=device))
    model = training_model(network, 'fp32', device, recipe)

    def reference():
        model.feed_data(dict(lq=data[0], gt=data[1]))
        model.optimize_parameters(1)

    def whole_step(autocast_dtype=None):
        return WholeStep(training_model(network, 'fp32', device, recipe), recipe, batch, device, autocast_dtype)

    whole = OrderedDict(fp32_step=(None,), fp32_graph=(None,), bf16_graph=(torch.bfloat16,))

    def built(name):
        step = whole[name] = whole_step(*whole[name])
        if name != 'fp32_step':
            step.capture([data] * cfg['warmup'])  # real steps on the static batch, then the capture
        return lambda: step(data)

    steps, results = _first_calls(OrderedDict([('fp32_eager', lambda: reference)] +
                                              [(name, lambda name=name: built(name)) for name in whole]))
    seconds = time_interleaved(steps, cfg['runs'], device, desc='graphs train')
    for name, s in seconds.items():
        results[name] = dict(it_per_s=1 / s, ms=s * 1e3, ratio=seconds['fp32_eager'] / s,
                             captured=whole[name].captured if name in whole else None)
    return OrderedDict((name, results[name]) for name in ['fp32_eager', *whole] if name in results)


@contextlib.contextmanager
def _exact_float32():
    """TF32 off and deterministic cuDNN algorithms: runs that differ only in launching compare by rounding alone."""
    backends = torch.backends
    saved = backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32, backends.cudnn.deterministic
    backends.cudnn.allow_tf32 = backends.cuda.matmul.allow_tf32 = False
    backends.cudnn.deterministic = True
    try:
        yield
    finally:
        backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32, backends.cudnn.deterministic = saved


def _learn(network, recipe, cfg, device):
    """The reference, our step and its graph from the same weights on the same batches (TF32 off)."""
    pairs, _ = learning_pairs(cfg['learn_pairs'], 0, cfg['train_size'][0])
    batches = [tuple(torch.stack([pairs[i][k] for i in idx]).to(device) for k in (0, 1))
               for idx in _batches(len(pairs), cfg['batch'], cfg['learn_steps'], seed=0)]
    shape = batches[0][0].shape
    nets, losses = OrderedDict(), OrderedDict()
    with _exact_float32():
        model = training_model(network, 'fp32', device, recipe)
        losses['fp32_eager'] = []
        for lq, gt in batches:
            model.feed_data(dict(lq=lq, gt=gt))
            model.optimize_parameters(1)
            losses['fp32_eager'].append(float(model.log_dict['l_pix']))
        nets['fp32_eager'] = model.get_bare_model(model.net_g)
        for name, warmup in (('fp32_step', None), ('fp32_graph', cfg['warmup'])):
            step = WholeStep(training_model(network, 'fp32', device, recipe), recipe, shape, device)
            # the uncaptured step never captures: capture() with no warm-up would record a graph whose optimizer
            # state was first made inside the capture (the 2026-12-04 H200 run's 3.8e-2 'fp32_step' difference)
            warm = [] if warmup is None else step.capture(batches[:warmup])
            losses[name] = warm + [float(step(b)) for b in batches[len(warm):]]
            nets[name] = step.net
    ref = dict(nets['fp32_eager'].named_parameters())
    step_params = dict(nets['fp32_step'].named_parameters())
    model = training_model(network, 'fp32', device, recipe)
    initial = dict(model.get_bare_model(model.net_g).named_parameters())
    results = OrderedDict(steps=len(batches), batch=shape[0], tf32=False, cudnn_deterministic=True, runs=OrderedDict())
    for name, net in nets.items():
        params = dict(net.named_parameters())
        results['runs'][name] = dict(
            first_loss=losses[name][0], final_loss=losses[name][-1], losses=losses[name],
            max_weight_diff=max((params[k] - ref[k]).abs().max().item() for k in ref),
            max_weight_diff_to_step=max((params[k] - step_params[k]).abs().max().item() for k in ref),
            max_weight_change=max((params[k] - initial[k]).abs().max().item() for k in ref))
    return results


def step_graphs(cfg, device, save):
    """The ``graphs`` step of the GPU check (``cfg``: the check's settings, with ``dry_run``)."""
    graphs = graph_settings(cfg['dry_run'])
    network, recipe = cfg['network'], gopro_recipe()
    result = OrderedDict(captured=device.type == 'cuda', settings=graphs, recipe=recipe,
                         lr='fixed (no scheduler in the timed steps)', inference=OrderedDict(),
                         tf32_cudnn=torch.backends.cudnn.allow_tf32)

    def save_all():
        save(result)

    net = build_arch(network['type'], {k: v for k, v in network.items() if k != 'type'}, device)
    sizes = [tuple(size) for size in graphs['sizes']]
    sizes += [tuple(graphs['tiled_size'])] if tuple(graphs['tiled_size']) not in sizes else []
    for size in sizes:
        tiled = (graphs['tile'], graphs['overlap']) if size == tuple(graphs['tiled_size']) else None
        _guarded(result['inference'], f'{size[0]}x{size[1]}', save_all,
                 lambda size=size, tiled=tiled: _inference(net, size, graphs['runs'], device, tiled))
    net = None  # its memory back before the training models
    _guarded(result, 'training', save_all, lambda: _training(network, recipe, graphs, device))
    _guarded(result, 'learn', save_all, lambda: _learn(network, recipe, graphs, device))
    synchronize(device)
    return result
