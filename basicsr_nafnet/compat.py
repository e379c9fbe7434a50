"""Compatibility shims that let the PyPI ``basicsr==1.4.2`` import and run on current PyTorch.

Every shim is applied *before* ``basicsr`` is imported (``basicsr_nafnet/__init__.py`` calls
:func:`apply` first), is idempotent, and is a no-op where the installed stack no longer needs it,
for example with BasicSR's GitHub master. No file of ``basicsr`` in site-packages is touched: the
shims only provide what basicsr looks up.

Because other BasicSR plugins (Real-ESRGAN, GFPGAN, ...) fail on the same missing module, importing
``basicsr_nafnet`` first also lets them import.
"""
import importlib
import importlib.util
import sys
import types

__all__ = ['apply', 'applied_shims']

_APPLIED = []


def applied_shims():
    """Names of the shims that were actually needed on this stack (for logs and bug reports)."""
    return list(_APPLIED)


def _provide_functional_tensor():
    # Why: torchvision 0.17 removed `torchvision.transforms.functional_tensor`, which
    # basicsr/data/degradations.py imports `rgb_to_grayscale` from; the function lives on in
    # `torchvision.transforms.functional`.
    name = 'torchvision.transforms.functional_tensor'
    if name in sys.modules or importlib.util.find_spec(name) is not None:
        return False
    from torchvision.transforms import functional
    module = types.ModuleType(name)
    module.__doc__ = 'Provided by basicsr_nafnet.compat: this torchvision no longer ships the module.'
    module.rgb_to_grayscale = functional.rgb_to_grayscale
    sys.modules[name] = module
    return True


_SHIMS = (_provide_functional_tensor, )


def apply():
    """Apply every shim this stack needs. Safe to call any number of times."""
    for shim in _SHIMS:
        if shim.__name__ not in _APPLIED and shim():
            _APPLIED.append(shim.__name__)
