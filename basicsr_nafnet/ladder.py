"""The ladder, run: every rung trained alike, several seeds each, on long camera-shake blur, compared at one iteration.

One code path, budgets that differ (:data:`BUDGETS`):

* ``cpu``: ``bash scripts/demo.sh --ladder``, the shortened ladder, one run after the other, each resumable;
* ``gpu``: ``bash scripts/ladder_gpu.sh OUT``, every rung x seed at once as separate processes on one GPU, each
  stopped at a wall-clock deadline; ``gpu-full`` (``--full``): the same, the schedule run to its end;
  ``gpu-ends`` (``--ends``): that schedule for the two ends only (ResidualCNN, NAFNet), clipped, four seeds each;
* ``cpu-long``: the GPU budget's data and batch on the CPU, two runs at a time, a couple of hours on 2 cores;
  ``cpu-long-clip`` the same with lr 1e-3 and gradient clipping, ``cpu-3200-clip`` that for twice the iterations
  (meant for the two ends, ``--rungs 1,5``);
* ``cpu-varied-clip``: ``cpu-long-clip`` on the ``varied`` data (13 training photographs instead of 7, each in
  turn; the held-out pairs from both test photographs): does variety widen the gap on unseen photographs?
* ``cpu-half-clip``: ``cpu-long-clip`` with every rung at half its width: the gap against the networks' size;
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
import warnings

from .cli import ArgumentParser, check_output_dir, command, int_at_least, positive_float
from .errors import UserError
from .engine.experiment import experiment_paths, run_finished
from .engine.runs import common_iteration, saved_iterations, train_runs
from .data.synthetic import GREY_PHOTOS, TEST_PHOTOS, TRAIN_PHOTOS
from .fileio import atomic_write

__all__ = ['LADDER', 'LADDER_DATA', 'LADDER_DATASETS', 'Budget', 'BUDGETS', 'select_rungs', 'check_budget',
           'ensure_ladder_data', 'run_commands', 'saved_iterations', 'common_iteration', 'recipe_text', 'train_ladder',
           'run_ladder', 'pack_logs', 'main']

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
# each rung's number on the whole ladder, kept in the tables of runs of some rungs (--rungs 1,5)
LADDER_NUMBERS = {option_file: n for n, (option_file, _, _) in enumerate(LADDER, start=1)}

# long camera-shake blur (docs/ladder-data.md): camera paths of 10-30 px, mostly longer than the ResidualCNN's
# 19x19 receptive field; held-out input 20.8 dB. The GoPro-like 20-40 px on photographs magnified 2.5-3.5x
# (25.8 dB) learned nothing in 1600 GPU iterations (docs/ladder-data.md says why, probably).
LADDER_DATA = dict(size=(256, 256), seed=0, blur_px=(10.0, 30.0), zoom=None)
LADDER_CROP, LADDER_STEP = 128, 64  # LMDB crops; the training crop (gt_size) is cut from these
DATA_FOLDER = osp.join('datasets', 'synthetic_gopro_ladder')  # under the root; the option files read it there
# the same blur with more variety: the 7 colour training photographs seen by the probe in docs/ladder-data.md
# ("Where the gap goes") plus 6 grey photographs and textures, each photograph in turn so every one has an equal
# share; held-out pairs alternate between both test photographs (random draws gave coffee.png alone)
LADDER_VARIED = dict(LADDER_DATA, train_photos=list(TRAIN_PHOTOS + GREY_PHOTOS), test_photos=list(TEST_PHOTOS),
                     photo_order='cycle')
# a budget's ``data`` -> (folder under the root, generator settings); each in its own folder, so budgets on
# different data can share a root. The option files name the first; the others are passed as --force_yml
LADDER_DATASETS = {'long-blur': (DATA_FOLDER, LADDER_DATA),
                   'varied': (osp.join('datasets', 'synthetic_gopro_ladder_varied'), LADDER_VARIED)}


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
        data (str): A name in :data:`LADDER_DATASETS`, the synthetic set every rung trains and is scored on.
        width_scale (float): Every rung's channel count (``num_feat`` or ``width``) times this, rounded: the
            ladder at another size, the rungs still matched by MACs (each scales about as the square).
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
    data: str = 'long-blur'
    width_scale: float = 1.0


BUDGETS = {
    # bash scripts/demo.sh --ladder: 10 runs of 1200 iterations at batch 4 of 128x128; the whole command took
    # 28 min 31 s on a quiet 2-core Sapphire Rapids Xeon (2026-12-05, docs/ladder-cpu.md)
    'cpu': Budget('cpu', iters=1200, batch=4, crop=128, seeds=2),
    # bash scripts/demo.sh --ladder since 2026-12-06: 'cpu' with the clipped recipe of cpu-long-clip (lr 1e-3,
    # gradient norm clipped at 0.01) for every rung, since at lr 2e-3 unclipped both ResidualCNN seeds of a 'cpu'
    # run died (the input plus a constant colour, detail change 0.02). Two runs at a time on one thread each: one
    # at a time took 46 min on an AVX2-only 2-core EPYC; two at once train 1.4-1.6x faster there
    # (docs/ladder-cpu-clip.md)
    'cpu-clip': Budget('cpu-clip', iters=1200, batch=4, crop=128, seeds=2, lr=1e-3, grad_clip=0.01, concurrent=2,
                       threads=1, workers=2),
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
    # cpu-long-clip on the 'varied' data: 780 training pairs = 3 sequences of each of the 13 photographs, 40
    # held-out = one sequence of each test photograph. For the two ends (--rungs 1,5), ~50 min for two seeds
    'cpu-varied-clip': Budget('cpu-varied-clip', iters=1600, batch=16, crop=128, seeds=2, concurrent=2, threads=1,
                              train_pairs=780, test_pairs=40, checkpoints=8, workers=2, lr=1e-3, grad_clip=0.01,
                              data='varied'),
    # cpu-long-clip at half the width (a quarter of the MACs), for the two ends (--rungs 1,5; ~20 min for two seeds):
    # does the NAFNet - ResidualCNN gap grow or shrink with the networks' size?
    'cpu-half-clip': Budget('cpu-half-clip', iters=1600, batch=16, crop=128, seeds=2, concurrent=2, threads=1,
                            train_pairs=600, test_pairs=30, checkpoints=8, workers=2, lr=1e-3, grad_clip=0.01,
                            width_scale=0.5),
    # the GPU script's --dry-run and the tests: the same path, on the CPU, in seconds per run
    'tiny': Budget('tiny', iters=20, batch=2, crop=64, seeds=2, concurrent=2, train_pairs=24, test_pairs=3,
                   frame=128, threads=1),
}


def _data_recipe(budget):
    settings = LADDER_DATASETS[budget.data][1]
    return dict(settings, train=budget.train_pairs, test=budget.test_pairs, size=[budget.frame] * 2,
                blur_px=list(settings['blur_px']), zoom=list(settings['zoom']) if settings['zoom'] else None,
                crop=LADDER_CROP, step=LADDER_STEP)


def data_folder(budget):
    """The ladder's data folder for ``budget``, relative to the root."""
    return LADDER_DATASETS[budget.data][0]


def _drawn_photos(budget):
    """``({photograph: pairs} of the training split, the same of the held-out split)`` of the budget's data."""
    from .data.synthetic import pairs_per_photo

    settings = LADDER_DATASETS[budget.data][1]
    order = settings.get('photo_order', 'random')
    return tuple(pairs_per_photo(split, count, settings['seed'], settings.get(f'{split}_photos'), order)
                 for split, count in (('train', budget.train_pairs), ('test', budget.test_pairs)))


def data_text(budget):
    """One sentence on the budget's data, for the table's notes."""
    settings = LADDER_DATASETS[budget.data][1]
    train, test = _drawn_photos(budget)
    photos = (f"training pairs from {len(train)} photograph{'s' if len(train) > 1 else ''}"
              + (' in turn' if settings.get('photo_order') == 'cycle' and len(train) > 1 else '')
              + ', held-out pairs from ' + ' and '.join(f'{name} ({n})' for name, n in sorted(test.items())))
    zoom = settings['zoom']
    return (f"synthetic camera-shake blur ({budget.data!r}), {budget.train_pairs} training pairs in "
            f"{LADDER_CROP}x{LADDER_CROP} crops (step {LADDER_STEP}), {budget.test_pairs} held-out test pairs of "
            f"{budget.frame}x{budget.frame}; {photos}; camera paths {settings['blur_px'][0]:g}-"
            f"{settings['blur_px'][1]:g} px"
            + (f', photographs magnified {zoom[0]:g}-{zoom[1]:g}x' if zoom else
               ', photographs at their own scale or smaller') + ' (docs/ladder-data.md)')


def ensure_ladder_data(root, budget, log=print):
    """Make the budget's synthetic set and its LMDBs under ``root/`` :func:`data_folder` unless already there."""
    from .data.prepare import prepare_gopro
    from .data.synthetic import make_synthetic_gopro
    from .demo import lmdbs_complete, read_stamp

    data_dir = osp.join(root, data_folder(budget))
    recipe = _data_recipe(budget)
    stamp = osp.join(data_dir, 'ladder_recipe.json')
    if lmdbs_complete(data_dir) and read_stamp(stamp) == recipe:
        log(f'[ladder] data: reusing {data_dir}')
        return data_dir
    settings = LADDER_DATASETS[budget.data][1]
    log(f'[ladder] data: {budget.train_pairs} training and {budget.test_pairs} held-out pairs, '
        f"{settings['blur_px'][0]:g}-{settings['blur_px'][1]:g} px camera paths -> {data_dir}")
    photos = {key: settings[key] for key in ('train_photos', 'test_photos', 'photo_order') if key in settings}
    make_synthetic_gopro(data_dir, train=budget.train_pairs, test=budget.test_pairs, size=(budget.frame,) * 2,
                         seed=settings['seed'], blur_px=settings['blur_px'], zoom=settings['zoom'],
                         workers=budget.workers, overwrite=True, progress=False, **photos)
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
        if budget.width_scale != 1:
            network = scaled_network(opt['network_g'], budget.width_scale)
            overrides += [f'network_g:{key}={network[key]}' for key in WIDTH_KEYS if key in network]
        if data_folder(budget) != DATA_FOLDER:  # the option files read DATA_FOLDER; point every LMDB elsewhere
            for phase in ('train', 'val'):
                for key in ('dataroot_gt', 'dataroot_lq'):
                    old, new = DATA_FOLDER.replace(os.sep, '/'), data_folder(budget).replace(os.sep, '/')
                    if old not in opt['datasets'][phase][key]:
                        raise UserError(f'{option_file}: datasets:{phase}:{key} does not read {old}, so the '
                                        f'{budget.data!r} data cannot replace it')
                    path = opt['datasets'][phase][key].replace(old, new, 1)
                    overrides.append(f'datasets:{phase}:{key}={path}')
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
            f'{budget.seeds} seeds per rung (manual_seed + 0..{budget.seeds - 1})'
            + (f"; every rung at {budget.width_scale:g}x its option file's width" if budget.width_scale != 1 else ''))


def train_ladder(jobs, root, budget, log=print, poll_s=0.5):
    """Train ``(name, command)`` jobs under ``budget`` (:func:`~basicsr_nafnet.engine.runs.train_runs`).

    Returns:
        dict: ``name -> 'finished' | 'already trained' | 'stopped at the deadline' | 'not started'``.
    """
    return train_runs(jobs, root, lambda name: run_finished(name, root, budget.iters), budget.concurrent,
                      budget.deadline_s, budget.threads, log, poll_s, f'{budget.iters} iterations on {budget.device}',
                      '[ladder]')


WIDTH_KEYS = ('num_feat', 'width')  # the rungs' channel-count arguments (ResidualCNN; the UNets, Baseline, NAFNet)


def scaled_network(network, scale):
    """``network`` (an option file's ``network_g``) with its channel count times ``scale``, rounded."""
    network = dict(network)
    for key in WIDTH_KEYS:
        if key in network and scale != 1:
            network[key] = max(1, int(round(network[key] * scale)))
    return network


def check_scaled_network(opt, budget, label):
    """Refuse a ``width_scale`` that leaves rung ``label`` a network that cannot run (too few channels).

    Raises:
        UserError: Naming the width scale, the rung and its scaled width.
    """
    if budget.width_scale == 1:
        return
    from .engine.checks.network import check_network
    from .engine.checks.values import Problems

    network = scaled_network(opt['network_g'], budget.width_scale)
    problems = Problems()
    with warnings.catch_warnings():  # torch's note on zero-element tensors: the refusal below says it in one line
        warnings.simplefilter('ignore')
        check_network(problems, dict(opt, network_g=network))
    if problems:
        widths = ', '.join(f'{key}={network[key]}' for key in WIDTH_KEYS if key in network)
        raise UserError(f'--width-scale {budget.width_scale:g}: {label} at that width ({widths}) cannot run: '
                        f'{problems[0]}')


def _spec(opt, checkpoint, budget):
    return dict(network=scaled_network(opt['network_g'], budget.width_scale), checkpoint=checkpoint)


def check_budget(budget):
    """``budget`` if this machine can run it; a GPU budget where torch sees no GPU raises :class:`UserError`."""
    import torch

    if budget.device == 'cuda' and not torch.cuda.is_available():
        raise UserError(f'budget {budget.name!r} needs a CUDA GPU and torch sees none')
    return budget


def photos_by_role(budget):
    """``(photograph, role)`` for :func:`~basicsr_nafnet.evaluation.photo_gains.photo_gains`: the photographs of the
    budget's training pairs, of its held-out pairs, and the bundled ones its pairs never drew."""
    settings = LADDER_DATASETS[budget.data][1]
    train, test = _drawn_photos(budget)
    listed = list(settings.get('train_photos', TRAIN_PHOTOS)) + list(settings.get('test_photos', TEST_PHOTOS))
    bundled = list(dict.fromkeys(listed + list(TRAIN_PHOTOS + TEST_PHOTOS + GREY_PHOTOS)))  # listed first, once
    return ([(p, 'training') for p in bundled if p in train] + [(p, 'held-out') for p in bundled if p in test]
            + [(p, 'never seen') for p in bundled if p not in train and p not in test])


def run_ladder(root='.', budget='cpu', out_dir=None, log=print, ladder=LADDER, command_line=None, by_photo=0):
    """Data, every rung x seed trained under ``budget``, then the ladder table and figures.

    Args:
        root (str): Where ``datasets/``, ``experiments/``, ``ladder_logs/`` and ``results/ladder/`` go.
        budget (str | Budget): A name in :data:`BUDGETS` or a :class:`Budget`.
        out_dir (str | None): Where ``ladder.md``, ``.json``, ``.png`` and ``ladder_curves.png`` go
            (default: ``root/results/ladder``, beside the per-image scores; not ``docs/``, whose committed tables
            a demo run would overwrite).
        log (callable): Progress notes.
        ladder (sequence): ``(option file under options/, label, change)`` per rung, bottom first.
        command_line (str, optional): The command, recorded in the table's notes.
        by_photo (int): When positive, also score every run on this many fresh pairs of each photograph
            (:func:`photos_by_role`) and write ``photo_gains.md`` and ``.json`` (the lowest and highest rung only
            are compared there, as in the table).

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
    plan, jobs = [], []
    for relative, label, change in ladder:
        option_file = project_option_file(relative)
        opt = load_options(option_file)
        check_scaled_network(opt, budget, label)  # before any data is made or run trained
        runs = run_commands(option_file, opt, budget)
        plan.append((label, change, opt, [name for name, _ in runs], LADDER_NUMBERS.get(relative)))
        jobs += runs
    data_dir = ensure_ladder_data(root, budget, log)
    status = train_ladder(jobs, root, budget, log)
    run_dirs = [experiment_paths(name, root)['experiments_root'] for *_, names, _ in plan for name in names]
    iteration, checkpoints = common_iteration(run_dirs, budget.iters)
    log(f'[ladder] comparing every run at iteration {iteration} of {budget.iters}')
    rungs = []
    for label, change, opt, names, number in plan:
        dirs = [experiment_paths(name, root)['experiments_root'] for name in names]
        rungs.append(Rung(label, change, [Run(run, _spec(opt, checkpoints[run], budget)) for run in dirs],
                          number=number))
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
             f'Data: {data_text(budget)}.']
    meta = dict(command=command, machine=machine, recipe=recipe, budget=dataclasses.asdict(budget),
                compared_iteration=iteration, status=status, data=_data_recipe(budget))
    log('[ladder] scoring every run on the held-out synthetic test set')
    scores_dir = osp.join(root, 'results', 'ladder')
    out_dir = out_dir or scores_dir
    result = ladder_report(osp.join(data_dir, 'test'), rungs, out_dir, scores_dir, notes=notes, meta=meta, log=log,
                           device=budget.device)
    log(result['markdown'])
    if by_photo > 0:
        result['paths'].update(_photo_gains(rungs, budget, by_photo, out_dir, notes, meta, log))
    for name, path in result['paths'].items():
        log(f'[ladder] {name}: {path}')
    log(f'[ladder] this run took {time.perf_counter() - started:.0f} s')
    return dict(result, iteration=iteration, status=status)


def _photo_gains(rungs, budget, count, out_dir, notes, meta, log):
    from .evaluation.photo_gains import PAIRS_SEED, photo_gains, photo_gains_markdown, write_photo_gains

    settings = LADDER_DATASETS[budget.data][1]
    log(f'[ladder] scoring every run on {count} fresh pairs of each photograph')
    rows = photo_gains(rungs, photos_by_role(budget), count, budget.frame, settings['blur_px'], settings['zoom'],
                       device=budget.device, progress=False)
    first = (f'Each photograph: {count} new pairs of {budget.frame}x{budget.frame} (the generator\'s held-out draws '
             f'with seed {PAIRS_SEED}, none of them a training pair), the runs\' camera paths; gain = PSNR of the '
             "output minus the input's, mean over the pairs, then over seeds (spread: half the range).")
    paths = write_photo_gains(rows, out_dir, [first, *notes], dict(meta, pairs_per_photo=count))
    log(photo_gains_markdown(rows))
    return {'gains by photograph': paths['markdown'], 'gains by photograph (json)': paths['json']}


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
    parser.add_argument('--by-photo', type=int_at_least(1), default=0, metavar='N',
                        help='also score every run on N fresh pairs of each photograph (training, held-out and '
                        'never seen) into photo_gains.md and .json: is a gap learned in general or on the training '
                        'photographs?')
    parser.add_argument('--width-scale', type=positive_float, default=None, metavar='X',
                        help="every rung's channel count times X instead of the budget's (the rungs stay matched by "
                        "MACs); the runs are named apart, e.g. cpu-long-clip-w0.25")
    parser.add_argument('--command-line', default=None, help='the command recorded in the notes')
    args = parser.parse_args(argv)
    rungs = select_rungs(args.rungs) if args.rungs is not None else LADDER
    budget = BUDGETS[args.budget]
    if args.seeds is not None:  # the name stays: runs s0, s1, ... of this budget are the same runs
        budget = dataclasses.replace(budget, seeds=args.seeds)
    if args.width_scale is not None and args.width_scale != budget.width_scale:  # other networks: other runs
        budget = dataclasses.replace(budget, name=f'{budget.name}-w{args.width_scale:g}', width_scale=args.width_scale)
    check_budget(budget)  # before the output folder, and its logs archive, exist
    check_output_dir(args.out_dir, 'OUT_DIR')
    check_output_dir(args.root, '--root')
    command_line = args.command_line or (f'python -m basicsr_nafnet.ladder --budget {args.budget}'
                                         + (f' --rungs {args.rungs}' if args.rungs is not None else '')
                                         + (f' --seeds {args.seeds}' if args.seeds is not None else '')
                                         + (f' --width-scale {args.width_scale:g}' if args.width_scale is not None
                                            else '')
                                         + (f' --by-photo {args.by_photo}' if args.by_photo else ''))
    try:
        run_ladder(args.root, budget, out_dir=args.out_dir, ladder=rungs, command_line=command_line,
                   by_photo=args.by_photo)
    finally:  # the logs come back even when a step failed
        if os.path.isdir(args.root):
            print(f"[ladder] logs: {pack_logs(args.root, os.path.join(args.out_dir, 'ladder_logs.tar.gz'))}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
