"""Shared test set-up: import the plugin first (it applies the shims basicsr needs), tiny configs."""
import basicsr_nafnet  # noqa: F401  (must precede any basicsr import)
import pytest
import torch

# the one table of tiny configurations, shared with the benchmarks' --quick; test_archs.py fails if an arch is missing
from basicsr_nafnet.bench.configs import TINY_CONFIGS as TINY_ARCH_CONFIGS  # noqa: E402,F401


@pytest.fixture(autouse=True)
def _fixed_seed():
    torch.manual_seed(0)
