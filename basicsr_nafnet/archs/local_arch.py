"""NAFNetLocal and BaselineLocal: NAFNet and Baseline with the test-time local converter (TLC).

Paper: Revisiting Global Statistics Aggregation for Improving Image Restoration (Chu et al., ECCV 2022).
"""
from basicsr.utils.registry import ARCH_REGISTRY

from basicsr_nafnet.registry import register
from .baseline_arch import Baseline
from .nafnet_arch import NAFNet
from .tlc import convert_to_local


class _LocalMixin:
    """Builds the wrapped arch, then swaps its global poolings for TLC's local ones."""

    def __init__(self, *args, train_size=(1, 3, 256, 256), fast_imp=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_size = tuple(train_size)
        convert_to_local(self, self.train_size, fast_imp)


@register(ARCH_REGISTRY)
class NAFNetLocal(_LocalMixin, NAFNet):
    """NAFNet with the test-time local converter (TLC) applied to its channel attention.

    Paper: Revisiting Global Statistics Aggregation for Improving Image Restoration (Chu et al.,
    ECCV 2022). Same parameters and state-dict keys as :class:`NAFNet`; on inputs no larger than
    1.5x ``train_size`` it computes exactly what NAFNet computes.

    Args:
        *args, **kwargs: The arguments of :class:`NAFNet`.
        train_size (tuple[int]): N, C, H, W of the training crops. Default: (1, 3, 256, 256).
        fast_imp (bool): Approximate local pooling on a coarser grid. Default: False.
    """


@register(ARCH_REGISTRY)
class BaselineLocal(_LocalMixin, Baseline):
    """The NAFNet paper's Baseline with the test-time local converter (TLC).

    Paper: Revisiting Global Statistics Aggregation for Improving Image Restoration (Chu et al.,
    ECCV 2022). Same parameters and state-dict keys as :class:`Baseline`.

    Args:
        *args, **kwargs: The arguments of :class:`Baseline`.
        train_size (tuple[int]): N, C, H, W of the training crops. Default: (1, 3, 256, 256).
        fast_imp (bool): Approximate local pooling on a coarser grid. Default: False.
    """
