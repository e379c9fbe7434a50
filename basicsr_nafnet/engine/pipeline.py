"""BasicSR's ``train_pipeline``/``test_pipeline`` with the pieces that fail on current PyTorch replaced.

:func:`install` swaps the functions that ``basicsr.train``/``basicsr.test`` look up at call time:

- ``parse_options``: safe YAML, ``--local-rank`` (what ``torch.distributed.launch`` passes) and
  ``--local_rank``, ``--force_yml`` without ``eval``, CPU-capable distributed set-up, official
  NAFNet keys translated, missing paths reported by key, ``num_gpu`` > 0 without CUDA -> CPU.
- ``load_resume_state``: looks under ``root_path`` (BasicSR looks in ./experiments), maps to the
  CPU instead of ``torch.cuda.current_device()``, loads with ``weights_only=True``.
- ``create_train_val_dataloader``: counts iterations per epoch as the loader yields them
  (``drop_last``), makes resumed runs see exactly the data a straight run sees, whether the state was
  saved mid-epoch or after an epoch's last batch, and builds ``prefetch_mode: cpu`` loaders whose thread's
  failure reaches the loop (BasicSR's hangs).
- ``init_tb_logger``/``init_wandb_logger``: the logger back-ends, whose failures to start or to write name the
  ``logger`` key (:mod:`~basicsr_nafnet.engine.backends`).
- ``build_dataset`` of ``test_pipeline``: a test image that fails to read names its file.

The pipelines themselves are BasicSR's, unchanged. :func:`train` and :func:`test` hold the run's lock
(:mod:`~basicsr_nafnet.engine.ownership`) from the parsed options to the end, and turn what fails mid-run (a
sample that does not read, a metric, a logger back-end, a killed DataLoader worker) into one line
(:class:`~basicsr_nafnet.errors.RunFailed`) that says how to go on.
"""
import contextlib
import functools
import math
import os
import os.path as osp
import random
import warnings

import torch

from .backends import start_tb_logger, start_wandb_logger
from .checkpoint import load_state
from ..cli import ArgumentParser
from ..errors import RunFailed, one_line
from .dist import check_launcher_environment, init_dist
from .experiment import experiment_paths, latest_state, results_paths
from .option_check import validate_options
from .prefetch import PrefetchLoader
from .options import (OptionsError, apply_force_yml, check_num_gpu, check_paths, load_options, normalize_options,
                      resolve_option_file)
from .ownership import own_run
from .samples import ExplainedDataset, SampleError, sample_error_message, unreadable_files
from .sampling import ResumableSampler, SeededDataset

__all__ = ['parse_options', 'load_resume_state', 'create_train_val_dataloader', 'install', 'train', 'test']

# what load_resume_state found, for create_train_val_dataloader (BasicSR passes neither to the other)
_resume = {}


def build_parser(prog=None):
    parser = ArgumentParser(prog=prog, description='Train or test with BasicSR and the basicsr_nafnet archs.')
    parser.add_argument('-opt', type=str, required=True,
                        help='an option YAML file, or the name of one this project ships (e.g. NAFNet-GoPro)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none', help='job launcher')
    parser.add_argument('--auto_resume', action='store_true', help='resume from the latest training state')
    parser.add_argument('--debug', action='store_true')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0, help='set by the launcher')
    parser.add_argument('--force_yml', nargs='+', default=None, help='override options, e.g. train:ema_decay=0.999')
    return parser


def parse_options(root_path, is_train=True, argv=None, prog=None, resolve_weights=None, on_parsed=None):
    """BasicSR's ``parse_options`` contract (returns ``opt, args``), done safely.

    Every option is checked (:func:`~basicsr_nafnet.engine.option_check.validate_options`) before this returns,
    so nothing is created, renamed or deleted for options that cannot run. ``resolve_weights(reference)``, when
    given (the entry points pass the inference floor's, which knows URLs and model-zoo names), turns each
    ``path.pretrain_network_*`` that is not a local file into one (downloading into the cache if needed).
    ``on_parsed(opt, root_path, is_train)``, when given, is called last (:func:`test` takes the run's lock there).
    """
    from basicsr.utils import set_random_seed
    from basicsr.utils.dist_util import get_dist_info

    args = build_parser(prog or ('train.py' if is_train else 'test.py')).parse_args(argv)
    args.opt = resolve_option_file(args.opt, prefer='train' if is_train else 'test')  # BasicSR copies args.opt
    opt = normalize_options(load_options(args.opt), source=args.opt)
    for entry in args.force_yml or []:
        apply_force_yml(opt, entry)

    if args.launcher == 'none':
        opt['dist'] = False
    else:
        check_launcher_environment(args.launcher)
        opt['dist'] = True
        init_dist(args.launcher, **(opt.get('dist_params') or {}))
    opt['rank'], opt['world_size'] = get_dist_info()

    seed = opt.get('manual_seed')
    if seed is None:
        seed = opt['manual_seed'] = random.randint(1, 10000)

    opt['auto_resume'] = args.auto_resume
    opt['is_train'] = is_train
    if args.debug and isinstance(opt.get('name'), str) and not opt['name'].startswith('debug'):
        opt['name'] = 'debug_' + opt['name']
    num_gpu = check_num_gpu(opt.get('num_gpu', 'auto'), args.opt)
    opt['num_gpu'] = torch.cuda.device_count() if num_gpu == 'auto' else num_gpu
    if opt['num_gpu'] and not torch.cuda.is_available():
        warnings.warn(f"{args.opt}: num_gpu is {opt['num_gpu']} but CUDA is not available: running on the CPU")
        opt['num_gpu'] = 0

    for phase, dataset in (opt.get('datasets') if isinstance(opt.get('datasets'), dict) else {}).items():
        if not isinstance(dataset, dict):
            continue  # validate_options names it
        dataset['phase'] = phase.split('_')[0]
        dataset['scale'] = opt['scale']
        for key in ('dataroot_gt', 'dataroot_lq'):
            if isinstance(dataset.get(key), str):
                dataset[key] = osp.expanduser(dataset[key])
    if opt.get('path') is None:  # an empty section: nothing pretrained, no resume state
        opt['path'] = {}
    for key, val in (opt['path'] if isinstance(opt['path'], dict) else {}).items():
        if isinstance(val, str) and ('resume_state' in key or 'pretrain_network' in key):
            opt['path'][key] = osp.expanduser(val)
            if resolve_weights and 'pretrain_network' in key and not osp.exists(opt['path'][key]):
                opt['path'][key] = resolve_weights(opt['path'][key])
    check_paths(opt, source=args.opt)
    validate_options(opt, is_train, source=args.opt)
    _check_image_files(opt, source=args.opt)
    set_random_seed(seed + opt['rank'])

    if is_train:
        opt['path'].update(experiment_paths(opt['name'], root_path))
        if 'debug' in opt['name']:
            if opt.get('val'):
                opt['val']['val_freq'] = 8
            opt['logger']['print_freq'] = 1
            opt['logger']['save_checkpoint_freq'] = 8
    else:
        opt['path'].update(results_paths(opt['name'], root_path))
    if on_parsed is not None:
        on_parsed(opt, root_path, is_train)
    return opt, args


def _check_image_files(opt, source, limit=5):
    """Files of folder datasets that cannot be images, named before anything is created (not mid-run)."""
    problems = [f'datasets.{phase}: {path} {problem}' for phase, dataset in opt['datasets'].items()
                for path, problem in unreadable_files(dataset)]
    if problems:
        more = [f'... and {len(problems) - limit} more'] if len(problems) > limit else []
        raise OptionsError(f'{source}: {len(problems)} file(s) in the datasets cannot be read as images; replace '
                           'or remove them (BasicSR reads every file in the folders):\n'
                           + '\n'.join(problems[:limit] + more))


def load_resume_state(opt, on_loaded=None):
    """BasicSR's ``load_resume_state`` on any device, under ``root_path``, with ``weights_only=True``.

    ``on_loaded(opt)``, when given, is called once the state (or its absence) is known to be sound, right before
    BasicSR makes or moves aside the run folder (:func:`train` takes the run's lock there).
    """
    from basicsr.utils import check_resume

    _resume.clear()
    path = opt['path'].get('resume_state')
    if opt['auto_resume']:
        found = latest_state(experiment_paths(opt['name'], opt['root_path'])['training_states'])
        path = found or None
        opt['path']['resume_state'] = path
    if not path:
        if on_loaded is not None:
            on_loaded(opt)
        return None
    state = load_state(path, what='training state')
    if not (isinstance(state, dict) and {'iter', 'epoch', 'optimizers', 'schedulers'} <= set(state)):
        raise OptionsError(f'training state {path}: not a BasicSR training state (no iter, epoch, optimizers and '
                           'schedulers); path.resume_state wants a training_states/<iter>.state file')
    check_resume(opt, state['iter'])
    _resume.update(epoch=state['epoch'], iter=state['iter'], state=state)
    if on_loaded is not None:
        on_loaded(opt)
    return state


def build_loader(dataset, dataset_opt, **kwargs):
    """BasicSR's ``build_dataloader``; ``prefetch_mode: cpu`` gets :class:`PrefetchLoader` instead of BasicSR's
    PrefetchDataLoader, whose thread dies silently and leaves training waiting forever."""
    from basicsr.data import build_dataloader

    loader = build_dataloader(dataset, dict(dataset_opt, prefetch_mode=None), **kwargs)
    if dataset_opt.get('prefetch_mode') == 'cpu':
        return PrefetchLoader(loader, dataset_opt.get('num_prefetch_queue', 1))
    return loader


def create_train_val_dataloader(opt, logger):
    """BasicSR's loader set-up with exact iteration counts and resumable, seeded data order."""
    from basicsr.data import build_dataset
    from basicsr.data.data_sampler import EnlargedSampler

    train_loader = train_sampler = None
    total_epochs = total_iters = 0
    val_loaders = []
    for phase, dataset_opt in opt['datasets'].items():
        if phase == 'train':
            enlarge = dataset_opt.get('dataset_enlarge_ratio', 1)
            train_set = SeededDataset(build_dataset(dataset_opt), opt['manual_seed'], 'datasets.train')
            batch_size = dataset_opt['batch_size_per_gpu']
            train_sampler = ResumableSampler(EnlargedSampler(train_set, opt['world_size'], opt['rank'], enlarge),
                                             batch_size)
            train_loader = build_loader(train_set, dataset_opt, num_gpu=opt['num_gpu'], dist=opt['dist'],
                                        sampler=train_sampler, seed=opt['manual_seed'])
            iters_per_epoch = len(train_loader)  # what the loader yields: drop_last counted
            if iters_per_epoch == 0:
                raise OptionsError(f"datasets.train: {len(train_set)} training samples (x{enlarge}) make no batch of "
                                   f"{batch_size} per process on {opt['world_size']} process(es)")
            total_iters = int(opt['train']['total_iter'])
            total_epochs = math.ceil(total_iters / iters_per_epoch)
            if _resume:
                done_in_epoch = _resume['iter'] - _resume['epoch'] * iters_per_epoch
                if done_in_epoch == iters_per_epoch:
                    # saved after the epoch's last batch: BasicSR would replay the whole epoch; start the next one
                    # (the pipeline reads the state's epoch after this returns)
                    _resume['state']['epoch'] += 1
                elif 0 < done_in_epoch < iters_per_epoch:
                    # the interrupted epoch resumes where it stopped instead of from its start
                    train_sampler.skip_iterations(_resume['epoch'], done_in_epoch)
            logger.info(f'Training statistics:\n\tNumber of train images: {len(train_set)}'
                        f'\n\tDataset enlarge ratio: {enlarge}\n\tBatch size per process: {batch_size}'
                        f'\n\tWorld size: {opt["world_size"]}\n\tIterations per epoch: {iters_per_epoch}'
                        f'\n\tTotal epochs: {total_epochs}; iters: {total_iters}.')
        elif phase.split('_')[0] == 'val':
            val_set = ExplainedDataset(build_dataset(dataset_opt), f'datasets.{phase}')
            val_loader = build_loader(val_set, dataset_opt, num_gpu=opt['num_gpu'], dist=opt['dist'],
                                      sampler=None, seed=opt['manual_seed'])
            logger.info(f'Number of val images/folders in {dataset_opt["name"]}: {len(val_set)}')
            val_loaders.append(val_loader)
        else:
            raise OptionsError(f"datasets.{phase}: unknown phase; use 'train' or names starting with 'val'")
    if train_loader is None:
        raise OptionsError("the option file has no 'datasets.train' entry")
    return train_loader, train_sampler, val_loaders, total_epochs, total_iters


def install(argv=None, prog=None, resolve_weights=None, on_parsed=None, on_loaded=None):
    """Point ``basicsr.train``/``basicsr.test`` at the functions above (idempotent).

    Args:
        argv (list[str] | None): Command-line arguments for ``parse_options``; None reads ``sys.argv``.
        prog (str | None): The command's name in usage and error lines (default: train.py / test.py).
        resolve_weights (callable | None): See :func:`parse_options`.
        on_parsed (callable | None): See :func:`parse_options`.
        on_loaded (callable | None): See :func:`load_resume_state`.
    """
    import basicsr.test
    import basicsr.train

    given = dict(argv=argv, prog=prog, resolve_weights=resolve_weights, on_parsed=on_parsed)
    given = {k: v for k, v in given.items() if v is not None}
    parse = functools.partial(parse_options, **given) if given else parse_options
    basicsr.train.parse_options = parse
    basicsr.test.parse_options = parse
    basicsr.train.load_resume_state = (functools.partial(load_resume_state, on_loaded=on_loaded) if on_loaded
                                       else load_resume_state)
    basicsr.train.create_train_val_dataloader = create_train_val_dataloader
    basicsr.train.init_tb_logger = start_tb_logger
    basicsr.train.init_wandb_logger = start_wandb_logger
    basicsr.test.build_dataset = _explained_test_dataset


def _fresh_logger():
    """Let the pipeline's ``get_root_logger(log_file=...)`` attach its log file.

    BasicSR configures the 'basicsr' logger once per process; anything that logged before (building a
    network, an earlier run in the same process) would keep the new run's log file from being written.
    """
    import logging

    from basicsr.utils import logger as basicsr_logger

    basicsr_logger.initialized_logger.pop('basicsr', None)
    log = logging.getLogger('basicsr')
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def train(root_path=None, argv=None, prog=None, resolve_weights=None):
    """Run BasicSR's training pipeline; experiments go under ``root_path`` (default: the current directory).

    Args:
        root_path (str | None): Where ``experiments/`` and ``tb_logger/`` go.
        argv (list[str] | None): The command line (``-opt FILE ...``); None reads ``sys.argv``.
        prog (str | None): The command's name in usage and error lines.
        resolve_weights (callable | None): See :func:`parse_options`.
    """
    import basicsr.train

    with contextlib.ExitStack() as held:
        run = {}
        # the lock once the resume state is read: a refused or bad state then leaves even experiments/ untouched
        install(argv, prog, resolve_weights, on_parsed=lambda opt, root, _: run.update(name=opt['name'], root=root),
                on_loaded=lambda opt: _own_run(held, opt, opt['root_path'], True))
        _fresh_logger()
        try:
            basicsr.train.train_pipeline(osp.abspath(root_path or os.getcwd()))
        except SampleError as err:  # also the copy a DataLoader worker re-raises
            raise RunFailed(f'training stopped: {sample_error_message(err)}; then {_how_to_go_on(run)}') from None
        except RunFailed as err:  # a metric or a logger back-end (engine/backends.py) failed mid-run
            raise RunFailed(f'training stopped: {err}; then {_how_to_go_on(run)}') from err
        except RuntimeError as err:
            if not _worker_died(err):
                raise  # a bug: keep its traceback
            raise RunFailed(f'training stopped: datasets.train: a DataLoader worker process died '
                            f'({one_line(err, 200)}); most often the machine ran out of memory: lower '
                            f'datasets.train.num_worker_per_gpu or batch_size_per_gpu, then {_how_to_go_on(run)}'
                            ) from err


def test(root_path=None, argv=None, prog=None, resolve_weights=None):
    """Run BasicSR's test pipeline; results go under ``root_path`` (default: the current directory).

    Args:
        root_path (str | None): Where ``results/`` goes.
        argv (list[str] | None): The command line (``-opt FILE ...``); None reads ``sys.argv``.
        prog (str | None): The command's name in usage and error lines.
        resolve_weights (callable | None): See :func:`parse_options`.
    """
    import basicsr.test

    with contextlib.ExitStack() as held:
        install(argv, prog, resolve_weights, on_parsed=functools.partial(_own_run, held))
        _fresh_logger()
        again = 'run the same command again (the result images written so far are complete)'
        try:
            basicsr.test.test_pipeline(osp.abspath(root_path or os.getcwd()))
        except SampleError as err:
            raise RunFailed(f'testing stopped: {sample_error_message(err)}; then {again}') from None
        except RunFailed as err:  # a metric failed on a test image
            raise RunFailed(f'testing stopped: {err}; then {again}') from err


def _explained_test_dataset(dataset_opt):
    """BasicSR's ``build_dataset`` for ``test_pipeline``: a sample that fails to read names its file in one line."""
    from basicsr.data import build_dataset

    where = f"datasets.{dataset_opt.get('phase', 'test')} ({dataset_opt.get('name')})"
    return ExplainedDataset(build_dataset(dataset_opt), where)


def _worker_died(err):
    """Whether ``err`` is PyTorch's report of a DataLoader worker process killed or gone (not a bug here)."""
    return str(err).startswith('DataLoader worker') and ('exited unexpectedly' in str(err) or 'killed' in str(err))


def _own_run(held, opt, root_path, is_train):
    """Take the run's lock (rank 0 only: the other ranks of a run share its folder) for as long as ``held`` lasts."""
    if opt.get('rank', 0) == 0:
        held.enter_context(own_run(opt['name'], root_path, is_train))


def _how_to_go_on(run):
    state = latest_state(experiment_paths(run['name'], run['root'])['training_states']) if run else None
    if state is None:
        return 'run the same command again (no training state was saved yet)'
    return f'continue with --auto_resume (from {osp.relpath(state, run["root"])}, which is complete)'
