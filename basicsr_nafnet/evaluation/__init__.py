"""Leaderboard-style evaluation by the GoPro protocol: test sets, model specs, scoring, tables."""
from .leaderboard import run_leaderboard, variants_for
from .model_spec import ModelSpec, ModelSpecError, build_model, parse_model_spec
from .published import PUBLISHED_GOPRO, published_rows
from .testset import PairedTestSet, TestSetError, open_testset

__all__ = [
    'run_leaderboard', 'variants_for', 'ModelSpec', 'ModelSpecError', 'build_model', 'parse_model_spec',
    'PUBLISHED_GOPRO', 'published_rows', 'PairedTestSet', 'TestSetError', 'open_testset'
]
