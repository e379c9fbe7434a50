"""Figures: side-by-side comparisons with zoomed crops, and training curves (OpenCV drawing)."""
from .compare import compare_models, comparison_figure, most_different_region, pick_keys
from .curves import plot_curves, read_experiment, read_tensorboard, read_train_log
from .drawing import line_chart, write_png

__all__ = [
    'compare_models', 'comparison_figure', 'most_different_region', 'pick_keys', 'plot_curves', 'read_experiment',
    'read_tensorboard', 'read_train_log', 'line_chart', 'write_png'
]
