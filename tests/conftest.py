"""Shared test set-up: import the plugin first (it applies the shims basicsr needs), tiny configs, CUDA tests.

Tests marked ``cuda`` run where CUDA is available and are skipped (and counted as skipped) elsewhere;
``pytest -m cuda`` runs only them (``scripts/gpu_check.sh`` does). They take their device from the
``cuda_device`` fixture, so ``NAFNET_CUDA_TESTS_DEVICE=cpu pytest -m cuda`` runs their code on the CPU:
a check, on a machine without a GPU, that they hold no typo (NCCL becomes gloo there).
"""
import os

import basicsr_nafnet  # noqa: F401  (must precede any basicsr import)
import pytest
import torch

CUDA_TESTS_DEVICE = os.environ.get('NAFNET_CUDA_TESTS_DEVICE', 'cuda')


def cuda_tests_can_run():
    """True where the ``cuda`` tests have their device: a CUDA GPU, or the CPU stand-in asked for above."""
    return CUDA_TESTS_DEVICE == 'cpu' or torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    if cuda_tests_can_run():
        return
    skip = pytest.mark.skip(reason='needs a CUDA GPU (run with pytest -m cuda where there is one)')
    for item in items:
        if item.get_closest_marker('cuda') is not None:
            item.add_marker(skip)


@pytest.fixture
def cuda_device():
    """The device of a ``cuda`` test: ``cuda``, or the CPU when NAFNET_CUDA_TESTS_DEVICE=cpu."""
    if not cuda_tests_can_run():
        pytest.skip('needs a CUDA GPU')
    return torch.device('cpu' if CUDA_TESTS_DEVICE == 'cpu' else 'cuda')


@pytest.fixture(autouse=True)
def _fixed_seed():
    torch.manual_seed(0)
