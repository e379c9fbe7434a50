"""The one prepared GPU check (``scripts/gpu_check.sh``): every step with its own time limit, results kept as they come.

Steps, in order (uncompiled measurements first, so a slow compiler costs only the compiled numbers):
``env`` (GPU, driver, CUDA, cuDNN, versions), ``pytest`` (``pytest -m cuda``), ``inference`` (NAFNet-width32,
GoPro configuration, 256x256 and 1280x720, plain float32 NCHW eager against channels_last, fused, default,
fused fp16 and fused bf16), ``training`` (iterations per second and peak memory at batch 4 and 8 of
256x256 for fp32, bf16 autocast and bf16 + channels_last, then every mode trained the same steps on
synthetic GoPro-like pairs and scored on held-out ones), ``tiled`` (4K in tiles), ``graphs`` (CUDA graphs for
inference and the whole training step, and whether they learn alike: .graphs), ``inference_compile`` and
``training_compile`` (the same against eager and fp32, with ``torch.compile``).

:func:`run_gpu_check` runs each step in its own process under its limit (``in_process`` runs them here,
without limits, for the test suite), merges what each step saved into ``gpu_check.json`` and writes
``summary.md`` after every step, so a step that fails or runs out of time leaves the others' results.
A dry run does the same on tiny configurations in seconds, with ``torch.compile`` generating no code.
"""
import json
import os
import platform
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections import OrderedDict

import torch

from ..fileio import atomic_write
from .configs import TINY_CONFIGS, build_arch, dry_run_context, gopro_configs
from .gpu_report import format_summary
from .graphs import step_graphs
from .speed import benchmark_inference, benchmark_tiled
from .timing import machine_description, matmul_gflops
from .training import benchmark_training, gopro_recipe, learn_alike, learning_pairs

__all__ = ['STEPS', 'LIMITS', 'BUDGET_S', 'settings', 'run_step', 'run_gpu_check']

# seconds each step may take; the whole check stops starting steps at BUDGET_S (under the 8 minutes asked for)
LIMITS = OrderedDict([('env', 30), ('pytest', 150), ('inference', 75), ('training', 120), ('tiled', 30),
                      ('graphs', 150), ('inference_compile', 120), ('training_compile', 180)])
STEPS = list(LIMITS)
BUDGET_S = 450
RESULTS, SUMMARY, LOG, JUNIT = 'gpu_check.json', 'summary.md', 'gpu_check.log', 'pytest-cuda.xml'


def settings(dry_run):
    """What each step measures: the GoPro NAFNet-width32 on full-sized inputs, or tiny (dry run)."""
    if dry_run:
        return dict(network={'type': 'NAFNet', **TINY_CONFIGS['NAFNet']}, sizes=[(32, 32)], runs=1, train_size=(32, 32),
                    batches=[2], learn=dict(pairs=4, test_pairs=2, size=32, steps=3, batch=2, warmup=1),
                    tile_size=(96, 160), tile=48, overlap=8, pytest_paths=['tests/bench/test_cuda.py'])
    return dict(network={'type': 'NAFNet', **gopro_configs()['NAFNet']}, sizes=[(256, 256), (720, 1280)], runs=20,
                train_size=(256, 256), batches=[4, 8],
                learn=dict(pairs=32, test_pairs=4, size=256, steps=60, batch=4, warmup=3),
                tile_size=(2160, 3840), tile=512, overlap=32, pytest_paths=['tests'])


# the learning comparison trains without the official clip norm 0.01, which barely moves a short run (FACTS)
LEARN_RECIPE_CHANGES = dict(use_grad_clip=False)


def _versions():
    found = {}
    for name in ('torch', 'torchvision', 'numpy', 'basicsr', 'lmdb', 'mmengine', 'cv2', 'skimage'):
        try:
            module = __import__(name)
            found[name] = getattr(module, '__version__', None) or getattr(module, 'version', '?')
        except Exception as err:  # a missing package is a result here, not a failure of the step
            found[name] = f'not importable: {type(err).__name__}: {err}'
    return {k: str(v) for k, v in found.items()}


def step_env(cfg, device, save):
    env = OrderedDict(machine=machine_description(device), python=platform.python_version(), versions=_versions(),
                      cpu_count=os.cpu_count(), cuda_available=torch.cuda.is_available())
    if device.type == 'cuda':
        props = torch.cuda.get_device_properties(device)
        env.update(gpu=props.name, gpu_memory_gib=props.total_memory / 2**30, capability=f'{props.major}.{props.minor}',
                   multiprocessors=props.multi_processor_count, cuda=torch.version.cuda,
                   cudnn=torch.backends.cudnn.version(), tf32_cudnn=torch.backends.cudnn.allow_tf32,
                   tf32_matmul=torch.backends.cuda.matmul.allow_tf32)
        try:
            query = ['nvidia-smi', '--query-gpu=name,driver_version,memory.total', '--format=csv,noheader']
            env['nvidia_smi'] = subprocess.run(query, capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError) as err:
            env['nvidia_smi'] = f'unavailable: {err}'
    save(env)
    env['matmul_gflops'] = {name: matmul_gflops(device, dtype, n=512 if cfg['dry_run'] else 8192)
                            for name, dtype in (('fp32', torch.float32), ('bf16', torch.bfloat16))}
    save(env)


def _junit_counts(path):
    suite = ElementTree.parse(path).getroot()
    suite = suite if suite.tag == 'testsuite' else suite.find('testsuite')
    counts = {k: int(suite.get(k, 0)) for k in ('tests', 'failures', 'errors', 'skipped')}
    counts['passed'] = counts['tests'] - counts['failures'] - counts['errors'] - counts['skipped']
    counts['seconds'] = float(suite.get('time', 0))
    counts['failed_tests'] = [
        f"{case.get('classname')}::{case.get('name')}: {(bad.get('message') or '').splitlines()[0][:300]}"
        for case in suite.iter('testcase') for bad in case if bad.tag in ('failure', 'error')]
    return counts


def step_pytest(cfg, device, save):
    junit = os.path.join(cfg['out_dir'], JUNIT)
    cmd = [sys.executable, '-m', 'pytest', '-m', 'cuda', '-q', '-rs', '-p', 'no:cacheprovider', f'--junitxml={junit}',
           *cfg['pytest_paths']]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # in its own process group, stopped with everything it started (torchrun) if it outlasts the step
    status, code = _run_child(cmd, cfg['limit'] - 5, os.path.join(cfg['out_dir'], LOG), cwd=root)
    result = dict(command=' '.join(cmd[1:]), status=status, returncode=code)
    if os.path.isfile(junit):
        result.update(_junit_counts(junit))
    save(result)


def step_inference(cfg, device, save, compile=False):
    net = build_arch(cfg['network']['type'], {k: v for k, v in cfg['network'].items() if k != 'type'}, device)
    paths = ['eager', 'default', 'compile'] if compile else [
        'eager', 'channels_last', 'fused', 'default', 'fp16', 'bf16']
    result = OrderedDict(paths=paths, runs=cfg['runs'], sizes=OrderedDict())
    for h, w in cfg['sizes']:
        result['sizes'][f'{h}x{w}'] = benchmark_inference(net, paths, (h, w), cfg['runs'], device)
        save(result)


def step_training(cfg, device, save, compile=False):
    modes = ['fp32', 'bf16_channels_last', 'bf16_channels_last_compile'] if compile else [
        'fp32', 'bf16_autocast', 'bf16_channels_last']
    result = OrderedDict(modes=modes, size=list(cfg['train_size']), runs=cfg['runs'], recipe=gopro_recipe(),
                         throughput=OrderedDict())
    for i, batch in enumerate(cfg['batches']):
        result['throughput'][str(batch)] = benchmark_training(cfg['network'], cfg['train_size'], batch, cfg['runs'],
                                                              device, modes, result['recipe'])
        save(result)
        if i == 0:  # learn at the first batch size, while its compiled graph is fresh
            learn = cfg['learn']
            result['learn_recipe'] = dict(result['recipe'], **LEARN_RECIPE_CHANGES)
            pairs = learning_pairs(learn['pairs'], learn['test_pairs'], learn['size'])
            result['learn'] = learn_alike(cfg['network'], modes, device, *pairs, learn['steps'], learn['batch'],
                                          result['learn_recipe'], warmup=learn['warmup'])
            save(result)


def step_tiled(cfg, device, save):
    net = build_arch(cfg['network']['type'], {k: v for k, v in cfg['network'].items() if k != 'type'}, device)
    save(benchmark_tiled(net, cfg['tile_size'], cfg['tile'], cfg['overlap'], device))


_STEP_FUNCTIONS = dict(env=step_env, pytest=step_pytest, inference=step_inference, training=step_training,
                       tiled=step_tiled, graphs=step_graphs,
                       inference_compile=lambda *a: step_inference(*a, compile=True),
                       training_compile=lambda *a: step_training(*a, compile=True))


def run_step(name, out_dir, partial, dry_run, device, limit=None):
    """Run one step here, saving its results to the JSON file ``partial`` each time it has more."""
    cfg = dict(settings(dry_run), out_dir=out_dir, dry_run=dry_run, limit=limit or LIMITS[name])
    device = torch.device(device)

    def save(result):
        atomic_write(partial, json.dumps(result, indent=1))

    if dry_run:
        with dry_run_context():
            _STEP_FUNCTIONS[name](cfg, device, save)
    else:
        _STEP_FUNCTIONS[name](cfg, device, save)


def _run_child(cmd, limit, log, cwd=None):
    """Run ``cmd`` in its own process group for at most ``limit`` seconds, output appended to ``log``.

    Returns:
        tuple: ('ok' | 'failed' | 'timeout', the exit status or None).
    """
    with open(log, 'a') as f:
        f.write(f"\n===== {' '.join(cmd)} (limit {limit:.0f} s)\n")
        f.flush()
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
        try:
            code = proc.wait(timeout=limit)
            return ('ok' if code == 0 else 'failed'), code
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the step and whatever it started (torchrun, pytest)
            proc.wait()
            return 'timeout', None
        except BaseException:  # Ctrl-C: the step runs in its own session and would not see it
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise


def run_gpu_check(out_dir, dry_run=False, device='cuda', steps=None, budget=BUDGET_S, in_process=False,
                  script=None, log=print):
    """Run the steps into ``out_dir`` (created): ``gpu_check.json``, ``summary.md``, ``gpu_check.log``.

    Args:
        out_dir (str): The output folder; nothing is written outside it.
        dry_run (bool): Tiny configurations, few runs, compile without code generation.
        device (str): 'cuda', or 'cpu' for a dry run where there is no GPU.
        steps (list[str] | None): Steps to run, in :data:`STEPS` order; default all.
        budget (float): Seconds after which no step is started; a step gets the smaller of its limit and
            what is left.
        in_process (bool): Run the steps in this process, without time limits (tests).
        script (str | None): The command-line script each step process runs (``--step``); default
            ``scripts/gpu_check.py`` of this checkout.

    Returns:
        dict: What was written to ``gpu_check.json``.
    """
    os.makedirs(out_dir, exist_ok=True)
    steps = [s for s in STEPS if s in (steps or STEPS)]
    script = script or os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                    'scripts', 'gpu_check.py')
    results = OrderedDict(dry_run=dry_run, device=device, budget_s=budget, started=time.strftime('%Y-%m-%d %H:%M:%S'),
                          network=settings(dry_run)['network'], limits=dict(LIMITS), steps=OrderedDict())
    start = time.monotonic()
    for name in steps:
        left = budget - (time.monotonic() - start)
        limit = min(LIMITS[name], left)
        partial = os.path.join(out_dir, f'.step-{name}.json')
        entry = results['steps'][name] = OrderedDict(status='skipped', limit_s=limit)
        if limit < 10:
            entry['reason'] = f'{left:.0f} s of the {budget:.0f} s budget left'
        else:
            log(f'[gpu_check] {name} (limit {limit:.0f} s)')
            began = time.monotonic()
            if in_process:
                try:
                    run_step(name, out_dir, partial, dry_run, device, limit)
                    entry['status'] = 'ok'
                except Exception as err:  # recorded like a failed step process
                    entry.update(status='failed', error=f'{type(err).__name__}: {err}'[:2000])
            else:
                cmd = [sys.executable, script, out_dir, '--step', name, '--partial', partial, '--device', device]
                entry['status'], entry['returncode'] = _run_child(cmd + (['--dry-run'] if dry_run else []), limit,
                                                                  os.path.join(out_dir, LOG))
            entry['seconds'] = time.monotonic() - began
            if os.path.isfile(partial):
                with open(partial) as f:
                    entry['result'] = json.load(f)
                os.remove(partial)
            log(f"[gpu_check] {name}: {entry['status']} in {entry['seconds']:.0f} s")
        results['seconds'] = time.monotonic() - start
        atomic_write(os.path.join(out_dir, RESULTS), json.dumps(results, indent=1))
        atomic_write(os.path.join(out_dir, SUMMARY), format_summary(results))
    return results
