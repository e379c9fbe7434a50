"""Evaluation by the GoPro protocol: test sets, the leaderboard, reports, multi-model comparisons and
training curves. Networks are opened through
:func:`basicsr_nafnet.inference.open_model`."""
from .compare import compare_models, pick_keys
from .curves import plot_curves, read_experiment, read_tensorboard, read_train_log
from .leaderboard import run_leaderboard, variants_for
from .published import PUBLISHED_GOPRO, published_rows
from .testset import PairedTestSet, TestSetError, open_testset

__all__ = [
    'compare_models', 'pick_keys', 'plot_curves', 'read_experiment', 'read_tensorboard', 'read_train_log',
    'run_leaderboard', 'variants_for', 'PUBLISHED_GOPRO', 'published_rows', 'PairedTestSet', 'TestSetError',
    'open_testset'
]
