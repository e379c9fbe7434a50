"""Training speed per mode, and whether the modes learn alike: ``ImageRestorationModel`` steps as training runs them.

A mode is a set of this project's training options (``train.autocast``, ``train.channels_last``,
``train.compile``) on top of a recipe (optimizer, loss, gradient clipping: by default the official
NAFNet-width32 GoPro file's). :func:`benchmark_training` times ``optimize_parameters`` (forward, loss,
backward, clipping, optimizer step and the per-step checks the real model makes) per mode;
:func:`learn_alike` trains every mode from the same initial weights on the same batches and scores the
results on held-out pairs, with a second float32 run on another batch order as the yardstick of noise.
"""
import contextlib
import copy
import logging
import math
import time
from collections import OrderedDict

import torch

from ..engine.options import load_options, project_option_file
from ..inference import synchronize
from ..models.image_restoration_model import ImageRestorationModel
from .timing import peak_memory, time_guarding_slow

__all__ = ['TRAIN_MODES', 'DEFAULT_TRAIN_MODES', 'gopro_recipe', 'recipe_from_option_file', 'training_model',
           'benchmark_training', 'learning_pairs', 'learn_alike', 'psnr']

# mode -> the training options it sets (everything else comes from the recipe)
TRAIN_MODES = OrderedDict([
    ('fp32', dict()),  # the official way: float32 NCHW
    ('channels_last', dict(channels_last=True)),
    ('bf16_autocast', dict(autocast='bf16')),
    ('bf16_channels_last', dict(autocast='bf16', channels_last=True)),
    ('fp16_autocast', dict(autocast='fp16')),  # with gradient scaling
    ('bf16_channels_last_compile', dict(autocast='bf16', channels_last=True, compile=True)),
])
DEFAULT_TRAIN_MODES = {'cpu': ['fp32', 'channels_last', 'bf16_autocast'], 'cuda': list(TRAIN_MODES)}
_MODE_KEYS = ('autocast', 'channels_last', 'compile')


def recipe_from_option_file(path):
    """The ``train`` options of a BasicSR option file without its schedule length (None: the file has none)."""
    train = load_options(path).get('train')
    return {k: v for k, v in train.items() if k not in ('total_iter', 'warmup_iter')} if train else None


def gopro_recipe():
    """The ``train`` options of the official NAFNet-width32 GoPro file, without its schedule length."""
    return recipe_from_option_file(project_option_file('train/GoPro/NAFNet-width32.yml'))


@contextlib.contextmanager
def _quiet_basicsr():
    """BasicSR logs the whole network at INFO level when a model is built: keep the benchmark's output short."""
    from basicsr.utils import get_root_logger
    logger = get_root_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def training_model(network, mode, device, recipe=None, seed=0):
    """An ImageRestorationModel training ``network`` on ``device`` with ``recipe`` and the options of ``mode``.

    Args:
        network (dict): ``network_g`` options (``type`` and arguments).
        mode (str): A key of :data:`TRAIN_MODES`.
        device (torch.device): 'cpu' or 'cuda' (the current CUDA device).
        recipe (dict | None): ``train`` options; default :func:`gopro_recipe`. Its own autocast,
            channels_last and compile keys are replaced by the mode's.
        seed (int): Seeds the network's initial weights: the same seed gives every mode the same start.
    """
    if mode not in TRAIN_MODES:
        raise ValueError(f"unknown training mode '{mode}'; choose from: {', '.join(TRAIN_MODES)}")
    train = {k: v for k, v in copy.deepcopy(recipe or gopro_recipe()).items() if k not in _MODE_KEYS}
    train.update(TRAIN_MODES[mode])
    opt = dict(name=f'bench-{mode}', model_type='ImageRestorationModel', num_gpu=int(device.type == 'cuda'),
               dist=False, is_train=True, rank=0, world_size=1, network_g=dict(network), path={}, datasets={},
               train=train)
    torch.manual_seed(seed)
    with _quiet_basicsr():
        return ImageRestorationModel(opt)


def _compiles(mode):
    return bool(TRAIN_MODES[mode].get('compile'))


def benchmark_training(network, size, batch, runs, device, modes=None, recipe=None, slow_factor=None):
    """Seconds, iterations per second and peak memory of one training step per mode, on one random batch.

    Each mode trains its own model from the same initial weights. A compiled mode makes one step before
    the timing (its compile time is reported as ``compile_seconds``, and ``compiled`` says whether it
    stayed compiled). ``slow_factor``: as in :func:`.speed.benchmark_inference`, against the fp32 step.

    Returns:
        dict[str, dict]: Per mode: ``seconds``, ``it_per_s``, ``runs``, ``ratio`` (fp32 seconds / seconds),
        ``peak_mb`` and, for compiled modes, ``compile_seconds`` and ``compiled``.
    """
    modes = list(modes or DEFAULT_TRAIN_MODES[device.type])
    h, w = size
    torch.manual_seed(2)
    data = {'lq': torch.rand(batch, 3, h, w, device=device), 'gt': torch.rand(batch, 3, h, w, device=device)}
    steps, models, compile_seconds = OrderedDict(), {}, {}
    if any(_compiles(m) for m in modes):
        torch._dynamo.reset()  # compiled for this batch's shape, not as a shape-generic graph after another batch
    for mode in modes:
        model = models[mode] = training_model(network, mode, device, recipe)

        def step(model=model):
            model.feed_data(data)
            model.optimize_parameters(1)

        if _compiles(mode):  # compiling happens in the first step: not what a step costs
            synchronize(device)
            start = time.perf_counter()
            step()
            synchronize(device)
            compile_seconds[mode] = time.perf_counter() - start
        steps[mode] = step
    seconds, slow, _ = time_guarding_slow(steps, 'fp32', runs, device, 'train step', slow_factor)
    results = OrderedDict()
    for mode, step in steps.items():
        peak = peak_memory(step, device)
        results[mode] = dict(seconds=seconds[mode], it_per_s=1 / seconds[mode], runs=1 if mode in slow else runs,
                             ratio=seconds['fp32'] / seconds[mode] if 'fp32' in seconds else None,
                             peak_mb=peak / 2**20 if peak is not None else None)
        if mode in compile_seconds:
            results[mode].update(compile_seconds=compile_seconds[mode], compiled=models[mode].compiled)
    return results


def psnr(restored, target):
    """Mean PSNR (dB) of N x C x H x W batches in [0, 1], each image clamped and scored on its own."""
    mse = (restored.clamp(0, 1) - target).square().flatten(1).mean(1)
    return float((10 * torch.log10(1 / mse.clamp_min(1e-10))).mean())


def _evaluate(model, pairs, device):
    net = model.get_bare_model(model.net_g)
    net.eval()
    with torch.no_grad():
        scores = [psnr(net(lq[None].to(device)).float(), gt[None].to(device)) for lq, gt in pairs]
    net.train()
    return sum(scores) / len(scores)


def learning_pairs(count, test_count, size):
    """Synthetic GoPro-like (blurred, sharp) RGB pairs, 3 x size x size in [0, 1]: training and held-out lists."""
    from ..data.synthetic import synthetic_pairs

    def tensors(split, n):
        return [tuple(torch.from_numpy(img[..., ::-1].copy()).permute(2, 0, 1).float() / 255 for img in (blur, sharp))
                for _, _, _, blur, sharp, _ in synthetic_pairs(split, n, (size, size))]

    return tensors('train', count), tensors('test', test_count)


def _batches(count, batch, steps, seed):
    """``steps`` batches of indices into ``count`` pairs: seeded permutations, epoch after epoch, drop_last."""
    generator = torch.Generator().manual_seed(seed)
    order = []
    while len(order) < steps * batch:
        order += (torch.randperm(count, generator=generator)[:count - count % batch]).tolist()
    return [order[i * batch:(i + 1) * batch] for i in range(steps)]


def learn_alike(network, modes, device, train_pairs, test_pairs, steps, batch, recipe=None, seed=0, warmup=3,
                log=print):
    """Train each mode ``steps`` steps from the same weights on the same batches; score on held-out pairs.

    Args:
        network (dict): ``network_g`` options.
        modes (list[str]): Keys of :data:`TRAIN_MODES`; 'fp32' is always run first, and once more on
            another batch order ('fp32_reordered'): how far two equally good runs land apart.
        train_pairs, test_pairs (list[tuple[Tensor, Tensor]]): (blurred, sharp) 3 x H x W in [0, 1].
        steps, batch (int): Steps per mode and pairs per step.
        warmup (int): Steps left out of the time per step (the first compiles a compiled mode).

    Returns:
        dict: ``input_psnr`` (blurred vs sharp on the test pairs) and, per run, ``test_psnr``,
        ``first_loss`` / ``final_loss`` (mean training loss of the first / last 10 steps: did it learn),
        ``losses`` (every step), ``seconds``
        (median step after the warm-up), ``it_per_s``, ``delta_psnr`` against fp32.
    """
    runs = ['fp32', 'fp32_reordered'] + [m for m in modes if m != 'fp32']
    results = OrderedDict(input_psnr=sum(psnr(lq[None], gt[None]) for lq, gt in test_pairs) / len(test_pairs),
                          steps=steps, batch=batch, runs=OrderedDict())
    for run in runs:
        mode = 'fp32' if run == 'fp32_reordered' else run
        model = training_model(network, mode, device, recipe, seed=seed)
        losses, times = [], []
        for indices in _batches(len(train_pairs), batch, steps, seed + (run == 'fp32_reordered')):
            data = dict(lq=torch.stack([train_pairs[i][0] for i in indices]).to(device),
                        gt=torch.stack([train_pairs[i][1] for i in indices]).to(device))
            synchronize(device)
            start = time.perf_counter()
            model.feed_data(data)
            model.optimize_parameters(len(losses) + 1)
            synchronize(device)
            times.append(time.perf_counter() - start)
            losses.append(float(model.log_dict.get('l_pix', math.nan)))
        timed = sorted(times[warmup:] or times)
        entry = dict(test_psnr=_evaluate(model, test_pairs, device), first_loss=sum(losses[:10]) / len(losses[:10]),
                     final_loss=sum(losses[-10:]) / len(losses[-10:]), seconds=timed[len(timed) // 2], losses=losses)
        entry['it_per_s'] = 1 / entry['seconds']
        if _compiles(mode):
            entry['compiled'] = model.compiled
        entry['delta_psnr'] = entry['test_psnr'] - results['runs']['fp32']['test_psnr'] if run != 'fp32' else 0.0
        results['runs'][run] = entry
        log(f"  learn {run}: test PSNR {entry['test_psnr']:.3f} dB (input {results['input_psnr']:.3f}), "
            f"final loss {entry['final_loss']:.3f}, {entry['it_per_s']:.2f} it/s")
        del model
    return results
