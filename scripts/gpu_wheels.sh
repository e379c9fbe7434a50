#!/usr/bin/env bash
# Fetch, here (where the package registry is reachable), the wheels the GPU machine's image lacks, into .whl/
# (git-ignored), for scripts/gpu_check.sh: run(command="bash scripts/gpu_check.sh $OUT", carry=[".whl"], ...).
#
# The image has Python 3.12 with torch, torchvision, numpy, opencv-python-headless, scikit-image, scipy, pyyaml,
# tqdm, pytest, matplotlib, rich, requests and tensorboard; it lacks basicsr and lmdb (needed to import
# basicsr), mmengine (MACs) and what those import: addict, yapf, platformdirs (yapf's), termcolor (mmengine's):
# the modules a dry run and the test collection import, less the image's. Versions as in this project's tested
# environment. basicsr 1.4.2 is published as a source
# distribution only: its pure-Python wheel is built here. No torch, numpy or opencv wheel is fetched: the
# image's own are used.
#
#     bash scripts/gpu_wheels.sh          # PYTHON=... picks the interpreter whose pip is used (default python3)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
rm -rf .whl
mkdir -p .whl
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
"$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d .whl lmdb==3.0.0 mmengine==0.10.7 addict==2.4.0 yapf==0.43.0 platformdirs==4.14.8 \
    termcolor==3.3.0
"$python" -m pip wheel -q --no-deps -w .whl basicsr==1.4.2
ls -l .whl
du -sh .whl
