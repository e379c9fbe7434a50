"""Freed host memory reused inside the block: the second big allocation touches no new pages (glibc only)."""
import json
import os
import subprocess
import sys

import pytest

from basicsr_nafnet.ops import host_memory
from basicsr_nafnet.ops.host_memory import can_reuse_host_memory, reused_host_memory

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.skipif(not can_reuse_host_memory(), reason='needs glibc and no MALLOC_* variables')


_MEASURE = """
import json, resource, torch
from basicsr_nafnet.ops.host_memory import reused_host_memory

def faults_of_second_allocation(n=64 * 2 ** 20 // 4):
    torch.empty(n).fill_(1.0)  # allocated, touched, freed
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.empty(n).fill_(2.0)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

outside = faults_of_second_allocation()
with reused_host_memory():  # best of three: now and then the first one inside still lands on fresh pages
    inside = min(faults_of_second_allocation() for _ in range(3))
after = faults_of_second_allocation()
print(json.dumps(dict(outside=outside, inside=inside, after=after)))
"""


def test_freed_memory_is_reused_inside_the_block_only():
    # a fresh process: in a long-lived one, free blocks left by earlier work (their pages already returned)
    # may be the ones glibc picks, and the count says more about the heap's history than about the block
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    done = subprocess.run([sys.executable, '-c', _MEASURE], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    faults = json.loads(done.stdout.strip().splitlines()[-1])
    pages = 64 * 2 ** 20 // 4096
    assert faults['outside'] > pages // 2, faults  # glibc maps a block this large afresh each time
    assert faults['inside'] < pages // 20, faults
    assert faults['after'] > pages // 2, faults  # restored on the way out


def test_nested_blocks_restore_once(monkeypatch):
    calls = []
    monkeypatch.setattr(host_memory, '_mallopt', lambda option, value: calls.append((option, value)) or 1)
    with reused_host_memory():
        with reused_host_memory():
            pass
        assert len(calls) == 2  # set once by the outer block, not restored by the inner one
    assert len(calls) == 4 and host_memory._depth == 0
    assert calls[-2:] == [(host_memory._M_MMAP_MAX, 65536), (host_memory._M_TRIM_THRESHOLD, 128 * 1024)]


@pytest.mark.parametrize('name, value', [('MALLOC_ARENA_MAX', '2'), ('GLIBC_TUNABLES', 'glibc.malloc.mmap_max=0')])
def test_a_users_malloc_setting_is_left_alone(name, value, monkeypatch):
    calls = []
    monkeypatch.setattr(host_memory, '_mallopt', lambda option, value: calls.append((option, value)) or 1)
    monkeypatch.setenv(name, value)
    with reused_host_memory():
        pass
    assert calls == []
