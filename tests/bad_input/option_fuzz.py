"""Running option-file mutations through ``train.py``/``test.py`` in this process and classifying how each ended.

A case writes the mutated YAML into the world, runs the command's real ``main(argv)`` from the world folder under a
time limit (``signal.alarm``), and compares snapshots of the test root (bad_input_harness.snapshot) before and
after. Outcomes:

- ``worked``: exit 0, and only new files under the run folders (experiments/, tb_logger/, results/);
- ``clean refusal``: exit 2, one stderr line naming the option file or the key, no traceback, nothing touched;
- ``traceback``, ``hang`` (past the limit), ``other exit``, ``writes before failure`` (a refusal that touched
  files), ``writes outside`` (a run that worked but changed files it does not own).

What a working run created is removed afterwards, so every case sees the same world.
"""
import contextlib
import copy
import glob
import io
import os
import shutil
import signal
import traceback
import warnings
from collections import Counter

import yaml
from bad_input_harness import COMMANDS, snapshot

__all__ = ['OUTCOMES', 'GOOD', 'base_options', 'shipped_bases', 'run_mutation', 'format_report']

OUTCOMES = ('worked', 'clean refusal', 'traceback', 'hang', 'other exit', 'writes before failure', 'writes outside')
GOOD = ('worked', 'clean refusal')
RUN_FOLDERS = ('experiments', 'tb_logger', 'results', 'wandb')
OPTION_FILE = 'fuzz_case.yml'


class CaseTimeout(BaseException):
    """Raised by the alarm: a BaseException, so the command's own ``except Exception`` cannot swallow it."""


def base_options(world, command):
    """The world's working option file for ``command`` ('train': 2 iterations; 'test': the tiny checkpoint)."""
    with open(world['root'] / ('ok.yml' if command == 'train' else 'ok_test.yml')) as f:
        opt = yaml.safe_load(f)
    opt['name'] = 'fuzz' if command == 'train' else 'fuzz-test'  # the world's experiments/tiny must stay as it is
    # a run that works ends in about a second: one iteration, one validation, no images written
    opt['val'].update(save_img=False, save_comparison=False)
    if command == 'train':
        opt['train']['total_iter'] = opt['val']['val_freq'] = opt['logger']['save_checkpoint_freq'] = 1
    return opt


# where the world keeps tiny data of each layout: image folders (40x48 PNGs) and LMDB (32x32 crops, 40x56 frames)
TINY_DATA = {
    'folder': {'train': ('data/train/sharp', 'data/train/blur', 'disk'),
               'val': ('data/val/sharp', 'data/val/blur', 'disk')},
    'lmdb': {'train': ('syn/train/sharp_crops.lmdb', 'syn/train/blur_crops.lmdb', 'lmdb'),
             'val': ('syn/test/target.lmdb', 'syn/test/input.lmdb', 'lmdb')},
}


def _tiny_network(network):
    """The same arch and keys with tiny sizes: width 8, one block per level, two residual blocks."""
    network = copy.deepcopy(network)
    for key, value in network.items():
        if key in ('width', 'num_feat'):
            network[key] = 8
        elif key in ('enc_blk_nums', 'dec_blk_nums'):
            network[key] = [min(v, 1) for v in value]
        elif key in ('middle_blk_num', 'num_block'):
            network[key] = min(value, 1 if key == 'middle_blk_num' else 2)
    return network


def _tiny_shipped(opt, command, layout, checkpoint):
    """A shipped option file on the world's tiny data: the same keys, nesting and types, tiny sizes, one iteration."""
    opt = copy.deepcopy(opt)
    opt['name'] = 'fuzz' if command == 'train' else 'fuzz-test'
    for phase, dataset in opt['datasets'].items():
        gt, lq, backend = TINY_DATA[layout]['train' if phase == 'train' else 'val']
        dataset.update(dataroot_gt=gt, dataroot_lq=lq)
        dataset['io_backend']['type'] = backend
        if phase == 'train':
            dataset.update(gt_size=24, batch_size_per_gpu=2, num_worker_per_gpu=0)
    opt['network_g'] = _tiny_network(opt['network_g'])
    opt['val'].update(save_img=False, save_comparison=False)
    if command == 'train':
        opt['train']['total_iter'] = opt['val']['val_freq'] = opt['logger']['save_checkpoint_freq'] = 1
    else:
        opt['path']['pretrain_network_g'] = checkpoint
    return opt


def shipped_bases(world, command):
    """``[(name, options)]``: every shipped option file ``command`` runs (test files for test.py, the rest for
    train.py), each on image folders and on LMDB, rewritten by :func:`_tiny_shipped`; test files get a checkpoint of
    their tiny network, saved into the world once."""
    import torch
    from basicsr.utils.registry import ARCH_REGISTRY

    from basicsr_nafnet.engine.options import load_options, options_root

    root = options_root()
    bases = []
    for path in sorted(glob.glob(os.path.join(root, '**', '*.yml'), recursive=True)):
        relative = os.path.relpath(path, root)
        if (relative.split(os.sep)[0] == 'test') != (command == 'test'):
            continue
        opt = load_options(path)
        checkpoint = None
        if command == 'test':
            checkpoint = f"fuzz-{relative.replace(os.sep, '-')[:-4]}.pth"
            target = world['root'] / checkpoint
            if not target.exists():
                network = _tiny_network(opt['network_g'])
                net = ARCH_REGISTRY.get(network['type'])(**{k: v for k, v in network.items() if k != 'type'})
                torch.save({'params': net.state_dict()}, target)
        for layout in TINY_DATA:
            bases.append((f"{relative[:-4]}@{layout}", _tiny_shipped(opt, command, layout, checkpoint)))
    return bases


def _on_alarm(signum, frame):
    raise CaseTimeout()


def _run(command, argv, limit):
    """(exit status or None, stderr text, timed out)."""
    err, out = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(limit)
    status, timed_out = None, False
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter('ignore')
            status = COMMANDS[command](argv)
    except CaseTimeout:
        timed_out = True
    except Exception:  # what the command let escape: the user would see this traceback
        err.write(traceback.format_exc())
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return status, err.getvalue(), timed_out


def _names_file_or_key(message, mutation):
    leaf = mutation.key.split('.')[-1] if mutation.key else ''
    return OPTION_FILE in message or (leaf and leaf in message)


def _in_run_folder(path):
    return path.split(os.sep)[1] in RUN_FOLDERS if path.startswith('world' + os.sep) else False


def _restore(top, before, after):
    """Remove what the case created (newest first), so the next case sees the same world."""
    for path in sorted(set(after) - set(before), reverse=True):
        full = os.path.join(top, path)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full, ignore_errors=True)
        elif os.path.lexists(full):
            os.remove(full)


def run_mutation(world, mutation, command, limit=60):
    """Run ``mutation`` through ``command`` ('train' or 'test'); returns (outcome, exit status, last stderr line)."""
    top, root = str(world['top']), world['root']
    option_file = root / OPTION_FILE
    option_file.write_text(mutation.text, encoding='utf-8', errors='surrogateescape')
    cwd = os.getcwd()
    os.chdir(root)
    try:
        before = snapshot(top)
        status, err, timed_out = _run(command, ['-opt', OPTION_FILE], limit)
        after = snapshot(top)
    finally:
        os.chdir(cwd)
    lines = [line for line in err.splitlines() if line.strip()]
    message = lines[-1] if lines else ''
    changed = {p for p, _ in set(before.items()) ^ set(after.items())}
    created = {p for p in changed if p not in before}
    # a folder's own time changes when a file is made inside it: what changed inside it is what counts
    touched = {p for p in changed - created if not (p in after and before[p][0] and after[p][0])}
    if timed_out:
        outcome = 'hang'
    elif 'Traceback' in err:
        outcome = 'traceback'
    elif status == 0:
        outcome = 'worked' if not touched and all(_in_run_folder(p) for p in created) else 'writes outside'
    elif status == 2:
        clean = len(lines) == 1 and 'error' in message and _names_file_or_key(message, mutation)
        outcome = 'writes before failure' if changed else ('clean refusal' if clean else 'other exit')
    else:
        outcome = 'other exit'
    _restore(top, before, snapshot(top))
    option_file.unlink()
    return outcome, status, message[:300]


def format_report(results):
    """Markdown counts of ``results`` ([(command, mutation, outcome, status, message)]), then every bad case."""
    lines = ['| command | cases | ' + ' | '.join(OUTCOMES) + ' |', '|---|---:|' + '---:|' * len(OUTCOMES)]
    for command in sorted({r[0] for r in results}, reverse=True):
        counts = Counter(r[2] for r in results if r[0] == command)
        total = sum(counts.values())
        lines.append(f'| `basicsr_nafnet/{command}.py` | {total} | ' + ' | '.join(str(counts[o]) for o in OUTCOMES)
                     + ' |')
    bad = [r for r in results if r[2] not in GOOD]
    if bad:
        lines += ['', '| command | mutation | what | outcome | last stderr line |', '|---|---|---|---|---|']
        for command, mutation, outcome, status, message in bad:
            shown = message.replace('|', '\\|')[:160]
            lines.append(f'| {command} | {mutation.id} | {mutation.description[:80]} | {outcome} | {shown} |')
    return '\n'.join(lines) + '\n'
