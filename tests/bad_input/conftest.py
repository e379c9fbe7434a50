"""The bad-input world, built once for every command family, and the catalogue written when the session ends."""
import os

import pytest
from bad_input_harness import build_world, write_report


@pytest.fixture(scope='session')
def world(tmp_path_factory):
    """What the commands see; no case may change it, so every family shares one (built in a few seconds)."""
    return build_world(tmp_path_factory.mktemp('bad_input'))


def pytest_sessionfinish(session, exitstatus):
    # ``BAD_INPUT_REPORT=docs/reliability.md pytest tests/bad_input`` writes the whole catalogue, all families
    target = os.environ.get('BAD_INPUT_REPORT')
    if target:
        write_report(target)
