"""What ImageRestorationModel accepts in ``train``: optimizers, learning-rate schedulers, autocast modes.

One owner: the model builds from these tables and the option checks (``engine/``) read them, so a
name the checks accept is one the model can build.
"""
import torch
from basicsr.models import lr_scheduler as basicsr_schedulers

from .lr_scheduler import WarmupCosineLR

__all__ = ['MODEL_TYPE', 'AUTOCAST_DTYPES', 'AUTOCAST_MODES', 'SCHEDULERS', 'optimizer_class', 'autocast_dtype']

MODEL_TYPE = 'ImageRestorationModel'  # the registered name whose options these rules describe

# train.autocast: null (float32) or one of these
AUTOCAST_DTYPES = {'bf16': torch.bfloat16, 'bfloat16': torch.bfloat16, 'fp16': torch.float16, 'float16': torch.float16}
AUTOCAST_MODES = (None,) + tuple(AUTOCAST_DTYPES)

# train.scheduler.type -> class built as cls(optimizer, **the other keys); ours first, then BasicSR's own
SCHEDULERS = {
    'TrueCosineAnnealingLR': WarmupCosineLR,  # official NAFNet's name for the warm-up-free case
    'CosineAnnealingLR': WarmupCosineLR,
    'CosineAnnealingWarmupLR': WarmupCosineLR,
    'MultiStepLR': basicsr_schedulers.MultiStepRestartLR,  # BasicSR builds both names as MultiStepRestartLR
    'MultiStepRestartLR': basicsr_schedulers.MultiStepRestartLR,
    'CosineAnnealingRestartLR': basicsr_schedulers.CosineAnnealingRestartLR,
}


def optimizer_class(name):
    """The ``torch.optim`` optimizer class called ``name`` (train.optim_g.type), or None."""
    cls = getattr(torch.optim, str(name), None)
    return cls if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer) else None


def autocast_dtype(kind):
    """The dtype of train.autocast ``kind`` (None: float32, no autocast).

    Raises:
        ValueError: ``kind`` is not one of :data:`AUTOCAST_MODES`.
    """
    if kind not in AUTOCAST_MODES:
        raise ValueError(f"train.autocast: '{kind}' is not one of null, bf16, fp16")
    return AUTOCAST_DTYPES.get(kind)
