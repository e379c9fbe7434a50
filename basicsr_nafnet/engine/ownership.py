"""One process per run name: the run's lock, held from before BasicSR makes (or moves aside) its folder to the end.

Two trainings with the same ``name`` would write one folder, each overwriting the other's checkpoints; the
second is refused in one line naming the first (:func:`~basicsr_nafnet.locks.output_lock`). A lock left by
a killed run is taken over, and what the kill left half-written in the run's folders (hidden temporaries of
checkpoint and state saves) is removed, which only the lock's owner may do.
"""
import contextlib
import os
import os.path as osp

from ..cli import say
from ..fileio import leftover_temporaries
from ..locks import output_lock
from .experiment import STATE_SUFFIX, experiment_paths, results_paths, run_lock_path

__all__ = ['own_run']


def _announce(line):
    say(f'note: {line}')


@contextlib.contextmanager
def own_run(name, root, is_train=True):
    """Hold the lock of run ``name`` under ``root`` while the block runs (see the module's docstring).

    Raises:
        OutputBusy: Another live process holds it; nothing was created.
    """
    lock = run_lock_path(name, root, is_train)
    parent = osp.dirname(lock)
    made_parent = not osp.isdir(parent)
    os.makedirs(parent, exist_ok=True)
    folder = (experiment_paths if is_train else results_paths)(name, root)
    target = folder['experiments_root' if is_train else 'results_root']
    try:
        with output_lock(lock, f"{target} (run name '{name}')", announce=_announce):
            if is_train:
                for where, final in ((folder['models'], r'.+\.pth'),
                                     (folder['training_states'], r'\d+' + STATE_SUFFIX.replace('.', r'\.'))):
                    for path in leftover_temporaries(where, final):
                        os.remove(path)
            yield
    finally:
        if made_parent:  # a run refused or failed before BasicSR wrote anything leaves no empty experiments/
            with contextlib.suppress(OSError):
                os.rmdir(parent)
