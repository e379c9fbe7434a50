#!/usr/bin/env python
"""Speed and memory of every registered arch per execution path; markdown to stdout, JSON to a file.

    python scripts/benchmark.py                       # full run on the CPU (takes a long while)
    python scripts/benchmark.py --quick               # tiny configs, seconds
    python scripts/benchmark.py --device cuda --archs NAFNet --paths default bf16 fp16
"""
import argparse

import basicsr_nafnet  # noqa: F401  (applies the basicsr shims and registers the archs)
from basicsr_nafnet.benchmark import PATHS, format_markdown, run_benchmark, write_json


def parse_size(text):
    try:
        h, w = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size '{text}' is not HxW, e.g. 720x1280")
    return h, w


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--archs', nargs='+', help='arch names (default: all with a GoPro configuration)')
    parser.add_argument('--paths', nargs='+', choices=list(PATHS), help='execution paths (eager is always included)')
    parser.add_argument('--sizes', nargs='+', type=parse_size, default=[(256, 256), (720, 1280)],
                        help='inference sizes HxW; the first is also the MACs size (default: 256x256 720x1280)')
    parser.add_argument('--runs', type=int, default=5, help='timed runs per path after a warm-up (default: 5)')
    parser.add_argument('--train-size', type=parse_size, default=(256, 256))
    parser.add_argument('--train-batch', type=int, default=1)
    parser.add_argument('--train-runs', type=int, help='timed training steps (default: --runs)')
    parser.add_argument('--no-tiled', action='store_true', help='skip tiled 4K inference of NAFNet')
    parser.add_argument('--tile', type=int, default=512)
    parser.add_argument('--overlap', type=int, default=32)
    parser.add_argument('--quick', action='store_true', help='tiny configurations and sizes (smoke test)')
    parser.add_argument('--json', default='benchmark.json', help='where to write the results (default: benchmark.json)')
    parser.add_argument('--threads', type=int, help='torch.set_num_threads before running')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    options = dict(archs=args.archs, sizes=args.sizes, paths=args.paths, runs=args.runs, device=args.device,
                   train_size=args.train_size, train_batch=args.train_batch, train_runs=args.train_runs,
                   tiled=not args.no_tiled, tile=args.tile, overlap=args.overlap)
    if args.quick:
        options.update(quick=True, sizes=[(32, 32), (48, 80)], train_size=(32, 32), tile_size=(96, 160), tile=48,
                       overlap=8)
    results = run_benchmark(**options)
    print(format_markdown(results))
    write_json(results, args.json)
    print(f'results written to {args.json}')
    return results


if __name__ == '__main__':
    main()
