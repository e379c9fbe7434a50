"""Bad input, gpu_check: its output folder, steps, budget and device.

The check, the world and the catalogue: bad_input_harness.py and conftest.py.
"""
import pytest
from bad_input_harness import assert_refused_cleanly, case_ids

CASES = [
    # scripts/gpu_check.py
    ('gpu-check-output-is-a-file', 'gpu_check', ['notes.txt', '--dry-run', '--device', 'cpu'], 2,
     ['notes.txt', 'not a folder']),
    ('gpu-check-output-under-a-file', 'gpu_check', ['notes.txt/sub', '--dry-run', '--device', 'cpu'], 2,
     ['notes.txt', 'is a file']),
    ('gpu-check-on-the-cpu-without-dry-run', 'gpu_check', ['out', '--device', 'cpu'], 2, ['needs CUDA', '--dry-run']),
    ('gpu-check-unknown-step', 'gpu_check', ['out', '--dry-run', '--steps', 'bogus'], 2, ['--steps', 'bogus']),
    ('gpu-check-budget-zero', 'gpu_check', ['out', '--dry-run', '--device', 'cpu', '--budget', '0'], 2, ['--budget']),
    ('gpu-check-device-banana', 'gpu_check', ['out', '--dry-run', '--device', 'banana'], 2, ['--device', 'banana']),
    ('gpu-check-unknown-flag', 'gpu_check', ['out', '--bogus'], 2, ['--bogus']),
]


@pytest.mark.parametrize('case', CASES, ids=case_ids(CASES))
def test_bad_input_is_refused_cleanly(case, world, capsys, monkeypatch):
    assert_refused_cleanly(case, world, capsys, monkeypatch)
