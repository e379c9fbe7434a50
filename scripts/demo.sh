#!/usr/bin/env bash
# The CPU demo on a fresh clone: sets up .venv (like scripts/test.sh), makes a synthetic GoPro-like set,
# converts it to LMDB, trains a small NAFNet through BasicSR, and prints input vs restored PSNR/SSIM.
#   bash scripts/demo.sh          # NAFNet only, about 5-10 minutes on 2 cores after the install
#   bash scripts/demo.sh --all    # also DeblurUNet and ResidualCNN, three rows
#   bash scripts/demo.sh --ladder # ResidualCNN -> UNet (BN) -> UNet (LN) -> Baseline -> NAFNet, two seeds each, on
#                                 # long camera-shake blur (the shortened ladder; the full one: scripts/ladder_gpu.sh):
#                                 # results/ladder/ladder.md/.json/.png and ladder_curves.png (README "The ladder")
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_venv.sh
exec .venv/bin/python -m basicsr_nafnet.demo "$@"
