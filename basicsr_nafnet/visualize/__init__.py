"""Drawing arrays it is given: comparison strips with zoomed crops, line charts, labels (runs no network)."""
from .drawing import PALETTE, label_bar, line_chart, write_png
from .figures import comparison_figure, most_different_region

__all__ = ['PALETTE', 'comparison_figure', 'most_different_region', 'label_bar', 'line_chart', 'write_png']
