"""Drawing what it is given: comparison strips with zoomed crops, labels (OpenCV), line charts (matplotlib)."""
from .drawing import label_bar, write_png
from .figures import comparison_figure, most_different_region

__all__ = ['comparison_figure', 'most_different_region', 'label_bar', 'write_png']
