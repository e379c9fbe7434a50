"""Speed and memory of every registered arch per execution path; markdown to stdout, JSON to a file.

    python scripts/benchmark.py                       # full run on the CPU (takes a long while)
    python scripts/benchmark.py --quick               # tiny configs, seconds
    python scripts/benchmark.py --device cuda --archs NAFNet      # every path and training mode on a GPU
    python scripts/benchmark.py --option-file options/demo/NAFNet-demo.yml --train-only --no-tiled
    python scripts/benchmark.py --dry-run                          # what --device cuda runs, tiny, on this device
    python scripts/benchmark.py --count-ops                        # operators per inference call and training step

--dry-run runs every inference path and training mode once on tiny configurations, on one CPU thread,
torch.compile through dynamo's eager backend (graphs captured, no code generated): a check in seconds, on
any machine, that a GPU run cannot fail on a typo. Its numbers mean nothing.
"""
import argparse

from ..bench.configs import TINY_CONFIGS, configs_from_option_file, dry_run_context, gopro_configs
from ..bench.operators import format_operator_counts, operator_counts
from ..bench.report import format_markdown, write_json
from ..bench.speed import PATHS, run_benchmark
from ..bench.training import TRAIN_MODES, recipe_from_option_file
from ..cli import ArgumentParser, check_output_file, command, non_negative_float, parse_device, positive_int
from ..errors import UserError


def parse_size(text):
    try:
        h, w = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size '{text}' is not HxW, e.g. 720x1280")
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"size '{text}': height and width must be at least 1")
    return h, w


def build_parser(prog='benchmark.py'):
    parser = ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--archs', nargs='+', help='arch names (default: all with a GoPro configuration)')
    parser.add_argument('--paths', nargs='+', choices=list(PATHS), help='execution paths (eager is always included)')
    parser.add_argument('--train-modes', nargs='+', choices=list(TRAIN_MODES),
                        help='training modes (fp32 is always included; default: fp32 channels_last bf16_autocast on '
                        'the CPU, all on cuda)')
    parser.add_argument('--sizes', nargs='+', type=parse_size,
                        help='inference sizes HxW; the first is also the MACs size (default: 256x256 720x1280; '
                        '--quick and --dry-run: 32x32 48x80)')
    parser.add_argument('--runs', type=positive_int, default=5, help='timed runs per path after a warm-up (default: 5)')
    parser.add_argument('--train-size', type=parse_size, help='training input HxW (default: 256x256)')
    parser.add_argument('--train-batch', type=positive_int, help='training batch (default: 1)')
    parser.add_argument('--train-runs', type=positive_int, help='timed training steps (default: --runs)')
    parser.add_argument('--no-tiled', action='store_true', help='skip tiled 4K inference of NAFNet')
    parser.add_argument('--tile', type=positive_int, default=512)
    parser.add_argument('--overlap', type=positive_int, default=32)
    parser.add_argument('--slow-factor', type=non_negative_float, default=5.0,
                        help='a path slower than eager by more than this in its warm-up call is timed by that call '
                        'alone and not run at larger sizes (bf16 without bf16 hardware); 0: time everything '
                        '(default: 5)')
    parser.add_argument('--option-file', help='benchmark the network_g of this BasicSR option file instead of the '
                        'built-in configurations; training size and batch default to its gt_size and batch')
    parser.add_argument('--train-only', action='store_true', help='training steps only, no inference sizes')
    parser.add_argument('--no-train', action='store_true', help='inference only, no training steps')
    parser.add_argument('--quick', action='store_true', help='tiny configurations and sizes (smoke test)')
    parser.add_argument('--count-ops', action='store_true', help='instead of timing: count the operators launched '
                        'per inference call and per training step (torch.profiler), official way against ours, for '
                        'each arch (default NAFNet) at the first --sizes (default 64x64: counts do not depend on it)')
    parser.add_argument('--dry-run', action='store_true', help='every path and training mode, tiny, one run each, '
                        'compile without code generation (see above); default archs: NAFNet')
    parser.add_argument('--json', default='benchmark.json', help='where to write the results (default: benchmark.json)')
    parser.add_argument('--threads', type=positive_int, help='torch.set_num_threads before running')
    return parser


def run(argv=None, prog='benchmark.py'):
    """Parse ``argv``, benchmark, print the table, write the JSON; returns the results."""
    args = build_parser(prog).parse_args(argv)
    parse_device(args.device)
    check_output_file(args.json, '--json', suffixes=('.json', ))
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    train_size, train_batch, configs, recipe = args.train_size, args.train_batch, None, None
    if args.option_file:
        configs, file_size, file_batch = configs_from_option_file(args.option_file)
        train_size, train_batch = train_size or file_size, train_batch or file_batch
        recipe = recipe_from_option_file(args.option_file)  # its optimizer, loss and clipping
    if args.count_ops:
        return count_ops(args, configs, recipe)
    sizes = args.sizes or ([(32, 32), (48, 80)] if args.quick or args.dry_run else [(256, 256), (720, 1280)])
    options = dict(archs=args.archs, sizes=[] if args.train_only else sizes, paths=args.paths, runs=args.runs,
                   device=args.device, train_size=train_size or (256, 256), train_batch=train_batch or 1,
                   train_runs=args.train_runs, configs=configs, tiled=not args.no_tiled, tile=args.tile,
                   overlap=args.overlap, slow_factor=args.slow_factor, train=not args.no_train,
                   train_modes=args.train_modes, recipe=recipe)
    if args.quick or args.dry_run:
        options.update(quick=True, train_size=args.train_size or (32, 32), tile_size=(96, 160), tile=48, overlap=8)
    if args.dry_run:
        options.update(archs=args.archs or (list(configs) if configs else ['NAFNet']), runs=1, train_runs=1,
                       paths=args.paths or list(PATHS), train_modes=args.train_modes or list(TRAIN_MODES),
                       slow_factor=0)
        with dry_run_context():
            results = run_benchmark(**options)
    else:
        results = run_benchmark(**options)
    print(format_markdown(results))
    write_json(results, args.json)
    print(f'results written to {args.json}')
    return results


def count_ops(args, configs, recipe):
    """The operator counts of ``--count-ops``: printed, and written to ``--json``."""
    table = TINY_CONFIGS if args.quick or args.dry_run else gopro_configs()
    unknown = [name for name in args.archs or [] if name not in table]
    if unknown and not configs:
        raise UserError(f"--archs {' '.join(unknown)}: no configuration to count; choose from: {', '.join(table)}")
    configs = configs or {name: {'type': name, **table[name]} for name in (args.archs or ['NAFNet'])}
    size = (args.sizes or [(32, 32) if args.quick or args.dry_run else (64, 64)])[0]
    results = {name: operator_counts(network, size, args.train_batch or 1, args.device, recipe)
               for name, network in configs.items()}
    for result in results.values():
        print(format_operator_counts(result) + '\n')
    write_json({'operator_counts': results}, args.json)
    print(f'results written to {args.json}')
    return results


@command(interrupted='stopped; no results were written')
def main(argv=None, prog='benchmark.py'):
    run(argv, prog)
