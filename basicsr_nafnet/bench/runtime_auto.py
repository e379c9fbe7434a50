"""Does ``--runtime auto`` pick the fastest exact runtime here? Its choice, then every candidate timed again.

:func:`benchmark_runtime_auto` lets :func:`~basicsr_nafnet.inference.runtime_choice.choose_runtime` measure and
choose (into a throw-away choices file, so nothing remembered is reused), then times every candidate again,
interleaved, with more calls: the chosen runtime's time over PyTorch's in that second, independent measurement is
what a user gains or loses, and the fastest there says whether the choice was right.
"""
import os
import tempfile

import torch

from ..inference import open_model
from ..inference.runtime_choice import NOISE, Workload, choose_runtime, installed_runtimes, size_class
from ..inference.timing import machine_description, time_interleaved

__all__ = ['benchmark_runtime_auto', 'format_runtime_auto_markdown']


def benchmark_runtime_auto(spec, size, runs=5, log=None):
    """Choose with ``auto`` for ``size`` (h, w), then time every candidate ``runs`` times at the size it measured
    (the size class holding ``size``, see :func:`~basicsr_nafnet.inference.runtime_choice.size_class`)."""
    opened = open_model(spec, 'cpu', 'torch', log=log)
    runners = {}  # made once (an export without a checkpoint is not cached) and timed again below

    def runner_for(name):
        if (name or 'torch') not in runners:
            runners[name or 'torch'] = opened.on_runtime(name).runner_for()
        return runners[name or 'torch']

    label, height, width = size_class(*size)
    with tempfile.TemporaryDirectory() as folder:
        chosen, _ = choose_runtime(opened.spec, opened.net, Workload(height, width, count=1), runner_for, log=log,
                                   path=os.path.join(folder, 'choices.json'), min_job_seconds=0)
    for name in [None] + installed_runtimes():
        runner_for(name)
    x = torch.rand(1, 3, height, width)
    with torch.inference_mode():
        seconds = time_interleaved({n: (lambda r=r: r(x)) for n, r in runners.items()}, runs, torch.device('cpu'),
                                   desc='runtimes')
    chosen = chosen or 'torch'
    fastest = min(seconds, key=seconds.get)
    return dict(machine=machine_description(torch.device('cpu')), model=opened.name, size=[height, width], runs=runs,
                seconds=seconds, chosen=chosen, fastest=fastest, noise=NOISE,
                chosen_over_torch=seconds[chosen] / seconds['torch'],
                right=chosen == fastest or seconds[chosen] <= (1 + NOISE) * seconds[fastest])


def format_runtime_auto_markdown(result):
    """The result as a markdown table, one row per runtime."""
    h, w = result['size']
    lines = [f"{result['model']} at {h}x{w}; {result['machine']}; median of {result['runs']} interleaved calls", '',
             '| runtime | ms | vs torch | |', '|---|---:|---:|---|']
    for name, sec in sorted(result['seconds'].items(), key=lambda kv: kv[1]):
        mark = 'chosen by auto' if name == result['chosen'] else ''
        lines.append(f"| {name} | {sec * 1e3:.1f} | {result['seconds']['torch'] / sec:.2f}x | {mark} |")
    lines += ['', f"auto chose {result['chosen']}: {result['chosen_over_torch']:.2f}x the time of PyTorch; the fastest "
              f"here was {result['fastest']} ({'right' if result['right'] else 'wrong'} within the "
              f"{result['noise']:.0%} noise margin)"]
    return '\n'.join(lines)
