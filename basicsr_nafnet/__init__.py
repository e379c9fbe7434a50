"""basicsr-nafnet: NAFNet-family motion deblurring as a BasicSR plugin.

``import basicsr_nafnet`` applies the compatibility shims the PyPI ``basicsr`` needs on current
PyTorch (see :mod:`basicsr_nafnet.compat`), then registers our archs, losses, metrics and models
in BasicSR's registries. Import it before ``basicsr`` or any other BasicSR plugin.
"""
# flake8: noqa
from . import compat

compat.apply()

from . import archs, losses, metrics, models  # noqa: E402  (registration needs the shims above)
from .version import __version__  # noqa: E402
