"""Evaluation by the GoPro protocol: test sets, model specs, the leaderboard, reports, multi-model comparisons and
training curves. Networks run through :mod:`basicsr_nafnet.inference`."""
from .compare import compare_models, pick_keys
from .curves import plot_curves, read_experiment, read_tensorboard, read_train_log
from .leaderboard import run_leaderboard, variants_for
from .model_spec import ModelSpec, ModelSpecError, build_model, parse_model_spec
from .published import PUBLISHED_GOPRO, published_rows
from .testset import PairedTestSet, TestSetError, open_testset

__all__ = [
    'compare_models', 'pick_keys', 'plot_curves', 'read_experiment', 'read_tensorboard', 'read_train_log',
    'run_leaderboard', 'variants_for', 'ModelSpec', 'ModelSpecError', 'build_model', 'parse_model_spec',
    'PUBLISHED_GOPRO', 'published_rows', 'PairedTestSet', 'TestSetError', 'open_testset'
]
