"""The experiment folder layout BasicSR writes, in one place.

Training writes ``<root>/experiments/<name>/`` with ``models/net_g_<iter>.pth`` (and ``net_g_latest.pth``),
``training_states/<iter>.state`` and ``visualization/``; testing writes ``<root>/results/<name>/``. A run's
lock file lies beside its folder (``<root>/experiments/.<name>.lock``), not in it: BasicSR renames an older
folder of the same name aside. Every module that needs one of these paths asks here.
"""
import os
import os.path as osp

__all__ = ['LATEST', 'STATE_SUFFIX', 'checkpoint_path', 'experiment_paths', 'run_paths', 'run_finished',
           'latest_state', 'results_paths', 'run_lock_path', 'run_name_of_checkpoint']

LATEST = 'latest'  # BasicSR's label for the last saved weights: net_g_latest.pth
STATE_SUFFIX = '.state'


def run_paths(run):
    """The ``opt['path']`` entries of the training run whose folder is ``run`` (``<root>/experiments/<name>``)."""
    return dict(experiments_root=run, models=osp.join(run, 'models'), log=run,
                training_states=osp.join(run, 'training_states'), visualization=osp.join(run, 'visualization'))


def experiment_paths(name, root='.'):
    """The ``opt['path']`` entries of a training run called ``name`` under ``root``."""
    return run_paths(osp.join(root, 'experiments', name))


def results_paths(name, root='.'):
    """The ``opt['path']`` entries of a test run called ``name`` under ``root``."""
    run = osp.join(root, 'results', name)
    return dict(results_root=run, log=run, visualization=osp.join(run, 'visualization'))


def run_lock_path(name, root='.', is_train=True):
    """The lock file of run ``name``: ``<root>/experiments/.<name>.lock`` (``results/`` for a test run)."""
    return osp.join(root, 'experiments' if is_train else 'results', f'.{name}.lock')


def checkpoint_path(name, root='.', label=LATEST, net_label='net_g'):
    """Where training run ``name`` saves ``net_label`` weights at ``label`` (an iteration or 'latest')."""
    return osp.join(experiment_paths(name, root)['models'], f'{net_label}_{label}.pth')


def run_finished(name, root, total_iter):
    """True when run ``name`` under ``root`` saved its training state at ``total_iter`` and its latest weights."""
    states = experiment_paths(name, root)['training_states']
    return osp.isfile(osp.join(states, f'{total_iter}{STATE_SUFFIX}')) and osp.isfile(checkpoint_path(name, root))


def latest_state(states_dir):
    """Path of the training state with the highest iteration in ``states_dir``, or None."""
    if not osp.isdir(states_dir):
        return None
    iters = [int(f[:-len(STATE_SUFFIX)]) for f in os.listdir(states_dir)
             if f.endswith(STATE_SUFFIX) and f[:-len(STATE_SUFFIX)].isdigit()]
    return osp.join(states_dir, f'{max(iters)}{STATE_SUFFIX}') if iters else None


def run_name_of_checkpoint(path, net_label='net_g'):
    """The run name for a checkpoint BasicSR saved (``experiments/<run>/models/net_g_<iter>.pth``), else None."""
    models_dir, fname = osp.split(osp.abspath(path))
    if osp.basename(models_dir) == 'models' and fname.startswith(f'{net_label}_') and fname.endswith('.pth'):
        return osp.basename(osp.dirname(models_dir))
    return None
