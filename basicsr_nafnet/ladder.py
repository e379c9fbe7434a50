"""The ladder, run: every rung trained alike, several seeds each, on long camera-shake blur, compared at one iteration.

One code path, budgets that differ (:data:`BUDGETS`):

* ``cpu``: ``bash scripts/demo.sh --ladder``, the shortened ladder, one run after the other, each resumable;
* ``gpu``: ``bash scripts/ladder_gpu.sh OUT``, every rung x seed at once as separate processes on one GPU, each
  stopped at a wall-clock deadline; ``gpu-full`` (``--full``): the same, the schedule run to its end;
  ``gpu-ends`` (``--ends``): that schedule for the two ends only (ResidualCNN, NAFNet), clipped, four seeds each;
* ``cpu-long``: the GPU budget's data and batch on the CPU, two runs at a time, a couple of hours on 2 cores;
  ``cpu-long-clip`` the same with lr 1e-3 and gradient clipping, ``cpu-3200-clip`` that for twice the iterations
  (meant for the two ends, ``--rungs 1,5``);
* ``tiny``: ``bash scripts/ladder_gpu.sh OUT --dry-run`` and the tests, the same path on the CPU in seconds.

A run checkpoints and validates every ``iters / 10`` iterations. The table compares every run at the last
iteration at which every run had saved a checkpoint (:func:`common_iteration`), and says which: a run the
deadline stopped early lowers that iteration for all instead of being compared at another point of its schedule.

Seeds: run ``k`` (0, 1, ...) of a rung is its option file with ``manual_seed`` + ``k`` and the name
``<name>-<budget>-s<k>`` (``--force_yml``); everything else is the option file's or the budget's, the same for
every rung.
"""
import dataclasses
import io
import json
import os
import os.path as osp
import sys
import tarfile
import time

from .cli import ArgumentParser, check_output_dir, command, int_at_least
from .errors import UserError
from .engine.experiment import experiment_paths, run_finished
from .engine.runs import common_iteration, saved_iterations, train_runs
from .fileio import atomic_write

__all__ = ['LADDER', 'LADDER_DATA', 'Budget', 'BUDGETS', 'select_rungs', 'check_budget', 'ensure_ladder_data',
           'run_commands', 'saved_iterations', 'common_iteration', 'recipe_text', 'train_ladder', 'run_ladder',
           'pack_logs', 'main']

# (option file under options/, label, what changes from the previous rung); one recipe, sizes matched by MACs
LADDER = (
    ('demo/ladder/1-ResidualCNN.yml', 'ResidualCNN', 'single scale: 9 conv3x3 + ReLU layers, y = x + f(x)'),
    ('demo/ladder/2-UNet-BN.yml', 'UNet (BN, ReLU)', "4-level UNet (NAFNet's skeleton), plain conv-BN-ReLU blocks"),
    ('demo/ladder/3-UNet-LN.yml', 'UNet (LN, ReLU)', 'LayerNorm instead of BatchNorm'),
    ('demo/ladder/4-Baseline.yml', 'Baseline (LN, GELU, CA)',
     "the paper's Baseline block: pre-LN, depth-wise conv, GELU, channel attention, FFN"),
    ('demo/ladder/5-NAFNet.yml', 'NAFNet (SimpleGate, SCA)',
     'SimpleGate instead of GELU, simplified channel attention instead of CA'),
)

# long camera-shake blur (docs/ladder-data.md): camera paths of 10-30 px, mostly longer than the ResidualCNN's
# 19x19 receptive field; held-out input 20.8 dB. The GoPro-like 20-40 px on photographs magnified 2.5-3.5x
# (25.8 dB) learned nothing in 1600 GPU iterations (docs/ladder-data.md says why, probably).
LADDER_DATA = dict(size=(256, 256), seed=0, blur_px=(10.0, 30.0), zoom=None)
LADDER_CROP, LADDER_STEP = 128, 64  # LMDB crops; the training crop (gt_size) is cut from these
DATA_FOLDER = osp.join('datasets', 'synthetic_gopro_ladder')  # under the root; the option files read it there


@dataclasses.dataclass(frozen=True)
class Budget:
    """How much one ladder run may spend; everything else is the option files' recipe.

    Args:
        name (str): Part of every run's name, so budgets never mix runs.
        iters (int): Iterations per run (the cosine schedule spans them).
        batch (int): Batch size per run. crop (int): Training crop side (gt_size, at most the LMDB crops' 128).
        seeds (int): Runs per rung.
        device (str): 'cpu' or 'cuda' (every run on the one visible GPU, ``num_gpu: 1``).
        concurrent (int): Runs training at the same time, each its own process.
        deadline_s (float | None): Wall-clock seconds from the first launch after which runs still going are stopped.
        train_pairs, test_pairs (int): Synthetic pairs made. frame (int): Their side.
        threads (int | None): Torch CPU threads per run (OMP_NUM_THREADS); None: torch's default.
        checkpoints (int): Checkpoints (and validations) per run, every ``iters // checkpoints`` iterations.
        workers (int): Processes making the data.
        lr (float | None): Learning rate for every rung instead of the option files' (None: the files').
        grad_clip (float | None): Clip every rung's gradient norm to this (``use_grad_clip``, ``grad_clip_norm``);
            None: the option files' setting (no clipping).
    """
    name: str
    iters: int
    batch: int
    crop: int
    seeds: int
    device: str = 'cpu'
    concurrent: int = 1
    deadline_s: float = None
    train_pairs: int = 240
    test_pairs: int = 20
    frame: int = 256
    threads: int = None
    checkpoints: int = 10
    workers: int = 1
    lr: float = None
    grad_clip: float = None


BUDGETS = {
    # bash scripts/demo.sh --ladder: 10 runs of 1200 iterations at batch 4 of 128x128; the whole command took
    # 28 min 31 s on a quiet 2-core Sapphire Rapids Xeon (2026-12-05, docs/ladder-cpu.md)
    'cpu': Budget('cpu', iters=1200, batch=4, crop=128, seeds=2),
    # bash scripts/ladder_gpu.sh: one H200, every run at once; the deadline keeps the whole command near 300 s
    'gpu': Budget('gpu', iters=4000, batch=16, crop=128, seeds=2, device='cuda', concurrent=10, deadline_s=260,
                  train_pairs=600, test_pairs=30, threads=1, workers=16, checkpoints=20),
    # bash scripts/ladder_gpu.sh OUT --full: the cosine schedule run to its end (the 'gpu' run's slowest rungs made
    # 2200 iterations in its 260 s, 8.5/s with ten at once on the H200: 3000 take ~355 s); the deadline a safety net
    'gpu-full': Budget('gpu-full', iters=3000, batch=16, crop=128, seeds=2, device='cuda', concurrent=10,
                       deadline_s=430, train_pairs=600, test_pairs=30, threads=1, workers=16, checkpoints=15),
    # bash scripts/ladder_gpu.sh OUT --ends: the ladder's two ends only (--rungs 1,5), four seeds each, the clipped
    # recipe of cpu-long-clip, the gpu-full schedule; eight processes instead of ten, so no slower than gpu-full
    'gpu-ends': Budget('gpu-ends', iters=3000, batch=16, crop=128, seeds=4, device='cuda', concurrent=8,
                       deadline_s=430, train_pairs=600, test_pairs=30, threads=1, workers=16, checkpoints=15, lr=1e-3,
                       grad_clip=0.01),
    # python -m basicsr_nafnet.ladder OUT --budget cpu-long --root WORK: the GPU budget's data and batch on 2 cores,
    # two runs at a time on one thread each (1.2-1.3x the throughput of one run on two threads, measured)
    'cpu-long': Budget('cpu-long', iters=1600, batch=16, crop=128, seeds=2, concurrent=2, threads=1, train_pairs=600,
                       test_pairs=30, checkpoints=8, workers=2),
    # the same with the official NAFNet recipe's optimiser settings for every rung (lr 1e-3, gradient norm clipped
    # at 0.01): the cpu-long run's NAFNet seeds split by 0.7 dB at lr 2e-3 unclipped (docs/ladder-cpu-long.md)
    'cpu-long-clip': Budget('cpu-long-clip', iters=1600, batch=16, crop=128, seeds=2, concurrent=2, threads=1,
                            train_pairs=600, test_pairs=30, checkpoints=8, workers=2, lr=1e-3, grad_clip=0.01),
    # twice cpu-long-clip's schedule, for the ladder's two ends (--rungs 1,5): does their gap grow with the budget?
    # (four runs, ~1.7 h on 2 cores; all five rungs would take ~4 h)
    'cpu-3200-clip': Budget('cpu-3200-clip', iters=3200, batch=16, crop=128, seeds=2, concurrent=2, threads=1,
                            train_pairs=600, test_pairs=30, checkpoints=8, workers=2, lr=1e-3, grad_clip=0.01),
    # the GPU script's --dry-run and the tests: the same path, on the CPU, in seconds per run
    'tiny': Budget('tiny', iters=20, batch=2, crop=64, seeds=2, concurrent=2, train_pairs=24, test_pairs=3,
                   frame=128, threads=1),
}


def _data_recipe(budget):
    return dict(LADDER_DATA, train=budget.train_pairs, test=budget.test_pairs, size=[budget.frame] * 2,
                blur_px=list(LADDER_DATA['blur_px']),
                zoom=list(LADDER_DATA['zoom']) if LADDER_DATA['zoom'] else None, crop=LADDER_CROP,
                step=LADDER_STEP)


def ensure_ladder_data(root, budget, log=print):
    """Make the ladder's synthetic set and its LMDBs under ``root/datasets/synthetic_gopro_ladder`` unless there."""
    from .data.prepare import prepare_gopro
    from .data.synthetic import make_synthetic_gopro
    from .demo import lmdbs_complete, read_stamp

    data_dir = osp.join(root, DATA_FOLDER)
    recipe = _data_recipe(budget)
    stamp = osp.join(data_dir, 'ladder_recipe.json')
    if lmdbs_complete(data_dir) and read_stamp(stamp) == recipe:
        log(f'[ladder] data: reusing {data_dir}')
        return data_dir
    log(f'[ladder] data: {budget.train_pairs} training and {budget.test_pairs} held-out pairs, '
        f"{LADDER_DATA['blur_px'][0]:g}-{LADDER_DATA['blur_px'][1]:g} px camera paths -> {data_dir}")
    make_synthetic_gopro(data_dir, train=budget.train_pairs, test=budget.test_pairs, size=(budget.frame,) * 2,
                         seed=LADDER_DATA['seed'], blur_px=LADDER_DATA['blur_px'], zoom=LADDER_DATA['zoom'],
                         workers=budget.workers, overwrite=True, progress=False)
    prepare_gopro(data_dir, crop_size=LADDER_CROP, step=LADDER_STEP, overwrite=True, progress=False,
                  workers=budget.workers if budget.workers > 1 else 0)
    atomic_write(stamp, json.dumps(recipe))  # written last: its presence means the data is complete
    return data_dir


def select_rungs(spec, ladder=LADDER):
    """The rungs named by ``spec``, numbers from 1 (bottom) separated by commas (``'1,5'``), bottom first.

    A rung whose predecessors were skipped states their changes too, so each row still says what changed from the
    row before it.

    Raises:
        UserError: A number that is not a rung, or fewer than two rungs.
    """
    numbers = set()
    for token in str(spec).split(','):
        token = token.strip()
        if not token.isdigit() or not 1 <= int(token) <= len(ladder):
            raise UserError(f'--rungs: {token!r} is not a rung; give rung numbers 1-{len(ladder)} separated by '
                            'commas, e.g. 1,5')
        numbers.add(int(token))
    if len(numbers) < 2:
        raise UserError('--rungs: give at least two rungs to compare, e.g. 1,5')
    chosen, previous = [], 0
    for n in sorted(numbers):
        option_file, label, change = ladder[n - 1]
        if previous:  # the bottom rung's change is what it is, not a change from the rungs below it
            change = '; then '.join(c for _, _, c in ladder[previous:n])
        chosen.append((option_file, label, change))
        previous = n
    return tuple(chosen)


def _freq(budget):
    return max(1, budget.iters // budget.checkpoints)


def run_commands(option_file, opt, budget):
    """``(name, command)`` of each seed's training run of one rung (``python -m basicsr_nafnet.train``)."""
    freq = _freq(budget)
    runs = []
    for k in range(budget.seeds):
        name = f"{opt['name']}-{budget.name}-s{k}"
        overrides = [f'name={name}', f"manual_seed={int(opt.get('manual_seed') or 0) + k}",
                     f"num_gpu={1 if budget.device == 'cuda' else 0}", f'train:total_iter={budget.iters}',
                     f'train:scheduler:T_max={budget.iters}', f'datasets:train:batch_size_per_gpu={budget.batch}',
                     f'datasets:train:gt_size={budget.crop}', f'val:val_freq={freq}',
                     f'logger:save_checkpoint_freq={freq}', f'logger:print_freq={max(1, freq // 2)}']
        if budget.lr is not None:
            overrides.append(f'train:optim_g:lr={budget.lr:g}')
        if budget.grad_clip is not None:
            overrides += ['train:use_grad_clip=true', f'train:grad_clip_norm={budget.grad_clip:g}']
        runs.append((name, [sys.executable, '-m', 'basicsr_nafnet.train', '-opt', option_file, '--auto_resume',
                            '--force_yml', *overrides]))
    return runs


def recipe_text(budget, train):
    """The recipe every rung trained with: the option files' ``train`` section as ``budget`` overrides it."""
    lr = budget.lr if budget.lr is not None else train['optim_g']['lr']
    if budget.grad_clip is not None or train.get('use_grad_clip', True):
        clip = budget.grad_clip if budget.grad_clip is not None else train.get('grad_clip_norm', 0.01)
        clipping = f'gradient norm clipped at {clip:g}'
    else:
        clipping = 'no gradient clipping'
    return (f'{budget.iters} iterations per run, batch {budget.batch} of {budget.crop}x{budget.crop} crops, '
            f"{train['optim_g']['type']} lr {lr:g} cosine to {train['scheduler']['eta_min']:g}, {clipping}, "
            f'PSNR loss, validation and checkpoint every {_freq(budget)} iterations, '
            f'{budget.seeds} seeds per rung (manual_seed + 0..{budget.seeds - 1})')


def train_ladder(jobs, root, budget, log=print, poll_s=0.5):
    """Train ``(name, command)`` jobs under ``budget`` (:func:`~basicsr_nafnet.engine.runs.train_runs`).

    Returns:
        dict: ``name -> 'finished' | 'already trained' | 'stopped at the deadline' | 'not started'``.
    """
    return train_runs(jobs, root, lambda name: run_finished(name, root, budget.iters), budget.concurrent,
                      budget.deadline_s, budget.threads, log, poll_s, f'{budget.iters} iterations on {budget.device}',
                      '[ladder]')


def _spec(opt, checkpoint):
    return dict(network=dict(opt['network_g']), checkpoint=checkpoint)


def check_budget(budget):
    """``budget`` if this machine can run it; a GPU budget where torch sees no GPU raises :class:`UserError`."""
    import torch

    if budget.device == 'cuda' and not torch.cuda.is_available():
        raise UserError(f'budget {budget.name!r} needs a CUDA GPU and torch sees none')
    return budget


def run_ladder(root='.', budget='cpu', out_dir=None, log=print, ladder=LADDER, command_line=None):
    """Data, every rung x seed trained under ``budget``, then the ladder table and figures.

    Args:
        root (str): Where ``datasets/``, ``experiments/``, ``ladder_logs/`` and ``results/ladder/`` go.
        budget (str | Budget): A name in :data:`BUDGETS` or a :class:`Budget`.
        out_dir (str | None): Where ``ladder.md``, ``.json``, ``.png`` and ``ladder_curves.png`` go
            (default: ``root/docs``).
        log (callable): Progress notes.
        ladder (sequence): ``(option file under options/, label, change)`` per rung, bottom first.
        command_line (str, optional): The command, recorded in the table's notes.

    Returns:
        dict: See :func:`~basicsr_nafnet.evaluation.ladder.ladder_report`; also ``iteration`` (the one compared)
        and ``status`` (per run).
    """
    import torch

    from .bench.timing import machine_description
    from .engine.options import load_options, project_option_file
    from .evaluation.ladder import Rung, Run, ladder_report

    budget = check_budget(BUDGETS[budget] if isinstance(budget, str) else budget)
    started = time.perf_counter()
    root = osp.abspath(root)
    data_dir = ensure_ladder_data(root, budget, log)
    plan, jobs = [], []
    for relative, label, change in ladder:
        option_file = project_option_file(relative)
        opt = load_options(option_file)
        runs = run_commands(option_file, opt, budget)
        plan.append((label, change, opt, [name for name, _ in runs]))
        jobs += runs
    status = train_ladder(jobs, root, budget, log)
    run_dirs = [experiment_paths(name, root)['experiments_root'] for *_, names in plan for name in names]
    iteration, checkpoints = common_iteration(run_dirs, budget.iters)
    log(f'[ladder] comparing every run at iteration {iteration} of {budget.iters}')
    rungs = []
    for label, change, opt, names in plan:
        dirs = [experiment_paths(name, root)['experiments_root'] for name in names]
        rungs.append(Rung(label, change, [Run(run, _spec(opt, checkpoints[run])) for run in dirs]))
    opt = plan[-1][2]
    device = torch.device('cuda' if budget.device == 'cuda' else 'cpu')
    machine = machine_description(device)
    stopped = sorted(name for name, s in status.items() if s != 'finished' and s != 'already trained')
    recipe = recipe_text(budget, opt['train'])
    compared = (f'Compared at iteration {iteration} of {budget.iters}: the last iteration at which every run had '
                'saved a checkpoint' + (f" (stopped at the {budget.deadline_s:g} s deadline or not started: "
                                        f"{', '.join(stopped)})" if stopped else ' (every run finished)') + '.')
    command = command_line or 'bash scripts/demo.sh --ladder'
    notes = [f'Command: `{command}`; machine: {machine}; budget {budget.name!r}: {budget.concurrent} run(s) at a '
             'time' + (f', {budget.deadline_s:g} s training deadline' if budget.deadline_s else '') + '.',
             f'Recipe (every rung the same; options/demo/ladder/): {recipe}.', compared,
             f'Data: synthetic camera-shake blur, {budget.train_pairs} training pairs in {LADDER_CROP}x{LADDER_CROP} '
             f'crops (step {LADDER_STEP}), {budget.test_pairs} held-out test pairs of {budget.frame}x{budget.frame} '
             f"from other photographs; camera paths {LADDER_DATA['blur_px'][0]:g}-{LADDER_DATA['blur_px'][1]:g} px"
             + (f", photographs magnified {LADDER_DATA['zoom'][0]:g}-{LADDER_DATA['zoom'][1]:g}x" if LADDER_DATA['zoom']
                else ', photographs at their own scale or smaller') + ' (docs/ladder-data.md).']
    meta = dict(command=command, machine=machine, recipe=recipe, budget=dataclasses.asdict(budget),
                compared_iteration=iteration, status=status, data=_data_recipe(budget))
    log('[ladder] scoring every run on the held-out synthetic test set')
    result = ladder_report(osp.join(data_dir, 'test'), rungs, out_dir or osp.join(root, 'docs'),
                           osp.join(root, 'results', 'ladder'), notes=notes, meta=meta, log=log, device=budget.device)
    log(result['markdown'])
    for name, path in result['paths'].items():
        log(f'[ladder] {name}: {path}')
    log(f'[ladder] this run took {time.perf_counter() - started:.0f} s')
    return dict(result, iteration=iteration, status=status)


def pack_logs(root, path):
    """Write the ladder's logs (BasicSR logs and option copies, run outputs, per-image scores) as one ``.tar.gz``."""
    root = osp.abspath(root)
    members = []
    for base, _, files in os.walk(root):
        rel = osp.relpath(base, root)
        if rel.startswith(('datasets', 'docs')) or f'{os.sep}models' in f'{os.sep}{rel}':
            continue
        members += [osp.join(rel, f) for f in sorted(files)
                    if f.endswith(('.log', '.txt', '.yml', '.csv', '.json')) and not f.endswith('.state')]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w:gz') as tar:
        for member in sorted(members):
            tar.add(osp.join(root, member), arcname=osp.join('ladder_logs', member))
    return atomic_write(path, buffer.getvalue())


@command(interrupted='stopped; the output folder holds only what was finished')
def main(argv=None):
    parser = ArgumentParser(prog='python -m basicsr_nafnet.ladder',
                            description='The ladder under one budget: data, every rung x seed trained, table and '
                            'figures into OUT_DIR (ladder.md, .json, .png, ladder_curves.png, ladder_logs.tar.gz).')
    parser.add_argument('out_dir', help='where the four files and the logs archive go')
    parser.add_argument('--budget', choices=sorted(BUDGETS), default='gpu', help='default: gpu')
    parser.add_argument('--root', required=True, help='work folder: data, experiments and logs go here')
    parser.add_argument('--rungs', default=None, metavar='N,N',
                        help='train and compare only these rungs, numbered from 1 (ResidualCNN) to '
                        f'{len(LADDER)} (NAFNet), e.g. 1,5; default: all')
    parser.add_argument('--seeds', type=int_at_least(2), default=None, metavar='N',
                        help="runs per rung instead of the budget's (at least 2, so the spread is measured); runs "
                        'the budget already trained are reused, so a larger N adds seeds')
    parser.add_argument('--command-line', default=None, help='the command recorded in the notes')
    args = parser.parse_args(argv)
    rungs = select_rungs(args.rungs) if args.rungs is not None else LADDER
    budget = BUDGETS[args.budget]
    if args.seeds is not None:  # the name stays: runs s0, s1, ... of this budget are the same runs
        budget = dataclasses.replace(budget, seeds=args.seeds)
    check_budget(budget)  # before the output folder, and its logs archive, exist
    check_output_dir(args.out_dir, 'OUT_DIR')
    check_output_dir(args.root, '--root')
    command_line = args.command_line or (f'python -m basicsr_nafnet.ladder --budget {args.budget}'
                                         + (f' --rungs {args.rungs}' if args.rungs is not None else '')
                                         + (f' --seeds {args.seeds}' if args.seeds is not None else ''))
    try:
        run_ladder(args.root, budget, out_dir=args.out_dir, ladder=rungs, command_line=command_line)
    finally:  # the logs come back even when a step failed
        if os.path.isdir(args.root):
            print(f"[ladder] logs: {pack_logs(args.root, os.path.join(args.out_dir, 'ladder_logs.tar.gz'))}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
