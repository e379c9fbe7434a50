#!/usr/bin/env bash
# The prepared GPU check, in one command: bash scripts/gpu_check.sh OUT_DIR [--dry-run] [gpu_check.py options]
#
# Under 8 minutes on one GPU (a budget of 450 s, each step with its own time limit: basicsr_nafnet/bench/gpu_check.py).
# Writes OUT_DIR/gpu_check.json (everything measured), summary.md, gpu_check.log and pytest-cuda.xml after every
# step: partial results survive a failing or slow step. It never needs the network.
#
# On the device machine (`nvidia-h200`: python3 with torch, no basicsr/lmdb/mmengine, no network), from a session
# with a GPU lent, after fetching the wheels here once (bash scripts/gpu_wheels.sh; .whl/ is git-ignored):
#
#     run(command="bash scripts/gpu_check.sh $OUT", carry=[".whl"], timeout_s=540)
#
# Then commit the files that come back under docs/benchmarks/gpu-<date>/ and put the headline numbers of summary.md
# in docs/speed.md and the README. Here, or on any machine, `bash scripts/gpu_check.sh OUT --dry-run` runs every
# step on tiny configurations (on the CPU without a GPU) to check the script itself.
#
# What it sets up (scripts/gpu_env.sh, shared with scripts/ladder_gpu.sh): where a package the check imports is missing (the device image lacks basicsr, lmdb, mmengine
# and a few of their needs), the wheels in .whl/ are installed into /tmp/site (GPU_CHECK_SITE) and put on
# PYTHONPATH; this checkout goes first on PYTHONPATH. PYTHON picks the interpreter (default python3).
set -u
if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
    echo "usage: bash scripts/gpu_check.sh OUT_DIR [--dry-run] [options of scripts/gpu_check.py]" >&2
    exit 2
fi
out=$1
shift
case $out in /*) ;; *) out=$PWD/$out ;; esac  # relative to where it was called, before the cd below
cd "$(dirname "$0")/.." || exit 2
source scripts/gpu_env.sh || exit 2
exec "$python" scripts/gpu_check.py "$out" "$@"
