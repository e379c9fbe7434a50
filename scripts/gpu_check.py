#!/usr/bin/env python
"""The prepared GPU check: CUDA tests, inference and training speed, learning alike, tiled 4K; JSON + markdown.

    bash scripts/gpu_check.sh OUT_DIR              # on a GPU machine (carried wheels, PYTHONPATH): under 8 minutes
    python scripts/gpu_check.py OUT_DIR --dry-run  # any machine: every step on tiny configurations, seconds

Writes OUT_DIR/gpu_check.json (everything measured), OUT_DIR/summary.md, OUT_DIR/gpu_check.log (each step's
output) and OUT_DIR/pytest-cuda.xml, after every step, so a step that fails or runs out of its time limit
leaves the others' results. What each step measures: basicsr_nafnet/bench/gpu_check.py; docs/speed.md, "GPU".
"""
import argparse
import os.path as osp
import sys

if __package__ in (None, ''):  # run as a script from a checkout: make the package importable by its name
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import basicsr_nafnet  # noqa: E402,F401  (applies the basicsr shims and registers the archs)
from basicsr_nafnet.bench.gpu_check import BUDGET_S, STEPS, run_gpu_check, run_step  # noqa: E402
from basicsr_nafnet.cli import ArgumentParser, check_output_dir, command, parse_device  # noqa: E402
from basicsr_nafnet.errors import UserError  # noqa: E402


def build_parser():
    parser = ArgumentParser(prog='gpu_check.py', description=__doc__)
    parser.add_argument('out_dir', help='output folder (created; nothing is written outside it)')
    parser.add_argument('--dry-run', action='store_true', help='tiny configurations, few runs, torch.compile without '
                        'code generation: checks every step in seconds, on the CPU where there is no GPU')
    parser.add_argument('--device', help='cuda (default) or, for a dry run without a GPU, cpu')
    parser.add_argument('--steps', nargs='+', choices=STEPS, help='run only these steps (default: all, in order)')
    parser.add_argument('--budget', type=float, default=BUDGET_S,
                        help=f'seconds after which no step is started (default: {BUDGET_S})')
    parser.add_argument('--in-process', action='store_true', help='run the steps in this process, without their '
                        'time limits (a dry run for tests)')
    # internal: one step, in its own process, started by the check itself
    parser.add_argument('--step', choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument('--partial', help=argparse.SUPPRESS)
    return parser


@command(interrupted='stopped; the results of the steps that finished are in the output folder')
def main(argv=None):
    args = build_parser().parse_args(argv)
    import torch

    if not args.dry_run and args.device is None and not torch.cuda.is_available():
        raise UserError('the GPU check needs CUDA, which this machine does not have; --dry-run checks it on the CPU')
    device = parse_device(args.device)  # a dry run takes the GPU where there is one, else the CPU
    if device.type != 'cuda' and not args.dry_run:
        raise UserError(f'--device {args.device}: the GPU check needs CUDA; --dry-run checks it on the CPU')
    if not args.budget > 0:
        raise UserError(f'--budget {args.budget:g}: must be a positive number of seconds')
    check_output_dir(args.out_dir, 'OUT_DIR')
    if args.step:  # a step process started by run_gpu_check
        run_step(args.step, args.out_dir, args.partial, args.dry_run, str(device))
        return
    results = run_gpu_check(args.out_dir, dry_run=args.dry_run, device=str(device), steps=args.steps,
                            budget=args.budget, in_process=args.in_process, script=osp.abspath(__file__))
    failed = [name for name, entry in results['steps'].items() if entry['status'] != 'ok']
    print(f"results: {osp.join(args.out_dir, 'gpu_check.json')}, {osp.join(args.out_dir, 'summary.md')}"
          + (f"; not ok: {', '.join(failed)}" if failed else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
