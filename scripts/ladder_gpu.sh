#!/usr/bin/env bash
# The ladder on a GPU, in one command:
#     bash scripts/ladder_gpu.sh OUT_DIR [--dry-run | --full | --ends] [--width-scale X]
#
# Makes the long-blur synthetic data in a temporary folder, trains every rung x seed at once on the one GPU
# (budget 'gpu' of basicsr_nafnet/ladder.py: 10 processes, each stopped at a 260 s deadline, compared at the last
# iteration every run had saved a checkpoint), scores them and writes five files into OUT_DIR: ladder.md,
# ladder.json, ladder.png, ladder_curves.png and ladder_logs.tar.gz (BasicSR logs, run outputs, per-image scores).
# 299 s in all on one H200 on 2026-12-04 (training 260 s, then scoring and figures); it never needs the network.
# --full: budget 'gpu-full', 3000 iterations so the cosine schedule ends (estimated ~355 s of training on the
# H200, 430 s deadline as a safety net; not yet run): run(..., timeout_s=600).
# --ends: budget 'gpu-ends', the target's two rungs only (ResidualCNN and NAFNet, --rungs 1,5), four seeds each,
# lr 1e-3 with gradient clipping at 0.01 (NAFNet's seeds split by 0.7 dB unclipped on the CPU), 3000 iterations;
# eight processes (not yet run): run(..., timeout_s=600).
#
# On the device machine, after fetching the wheels here once (bash scripts/gpu_wheels.sh; .whl/ is git-ignored):
#
#     run(command="bash scripts/ladder_gpu.sh $OUT", carry=[".whl"], timeout_s=420)
#
# --width-scale X: every rung X times as wide (runs named apart, e.g. gpu-ends-w2): with --ends, the next point of
# the width series in docs/ladder-width.md (the gap grew with width on the CPU; 1.0 dB extrapolates to ~100x the
# compute); at 2x each run is slower, so the 430 s deadline may decide the compared iteration.
# --dry-run: the same code path on the CPU (budget 'tiny': 3+24 pairs of 128x128, 20 iterations, 2 seeds, every
# rung), under ~2 minutes, to check the script itself. Set-up as scripts/gpu_check.sh (scripts/gpu_env.sh).
set -u
usage() {
    echo "usage: bash scripts/ladder_gpu.sh OUT_DIR [--dry-run | --full | --ends] [--width-scale X]" >&2
    exit 2
}
[ $# -ge 1 ] && [ "${1#-}" = "$1" ] || usage
out=$1
shift
mode=
scale=()
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run | --full | --ends) [ -z "$mode" ] || usage; mode=$1; shift ;;
        --width-scale) { [ $# -ge 2 ] && [ ${#scale[@]} -eq 0 ]; } || usage; scale=(--width-scale "$2"); shift 2 ;;
        *) usage ;;
    esac
done
budget=gpu
rungs=()
[ "$mode" = --dry-run ] && budget=tiny
[ "$mode" = --full ] && budget=gpu-full
[ "$mode" = --ends ] && budget=gpu-ends && rungs=(--rungs 1,5)
case $out in /*) ;; *) out=$PWD/$out ;; esac  # relative to where it was called, before the cd below
cd "$(dirname "$0")/.." || exit 2
source scripts/gpu_env.sh || exit 2
work=$(mktemp -d "${TMPDIR:-/tmp}/ladder.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
"$python" -m basicsr_nafnet.ladder "$out" --budget $budget "${rungs[@]}" "${scale[@]}" --root "$work" \
    --command-line "bash scripts/ladder_gpu.sh OUT_DIR${mode:+ $mode}${scale[*]:+ ${scale[*]}}"
