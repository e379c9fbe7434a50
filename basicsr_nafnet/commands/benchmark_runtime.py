"""Which exact runtime is fastest for a model on this machine, and does ``--runtime auto`` pick it?

    python scripts/benchmark_runtime.py --model NAFNet-GoPro --size 720x1280
    python scripts/benchmark_runtime.py --quick            # tiny network at 256x256, a minute
"""
import sys

from ..bench.report import write_json
from ..bench.runtime_auto import benchmark_runtime_auto, format_runtime_auto_markdown
from ..cli import ArgumentParser, add_threads_argument, apply_threads, check_output_file, command, positive_int
from .benchmark import parse_size

QUICK_SPEC = 'NAFNet:width=8,enc_blk_nums=[1,1],middle_blk_num=1,dec_blk_nums=[1,1]'


def build_parser(prog='benchmark_runtime.py'):
    parser = ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument('--model', default='NAFNet:width=32,enc_blk_nums=[1,1,1,28],middle_blk_num=1,'
                        'dec_blk_nums=[1,1,1,1]', metavar='SPEC',
                        help='a model spec as deblur.py takes it (default: NAFNet-width32 GoPro, random weights)')
    parser.add_argument('--size', type=parse_size, default=(720, 1280), help='HxW (default: 720x1280)')
    parser.add_argument('--runs', type=positive_int, default=5, help='timed calls per runtime (default: 5)')
    parser.add_argument('--quick', action='store_true', help='tiny network at 256x256 (smoke test)')
    parser.add_argument('--json', default='benchmark_runtime.json')
    add_threads_argument(parser)
    return parser


@command(interrupted='stopped; no results were written')
def main(argv=None, prog='benchmark_runtime.py'):
    args = build_parser(prog).parse_args(argv)
    check_output_file(args.json, '--json', suffixes=('.json', ))
    apply_threads(args.threads)
    spec, size = (QUICK_SPEC, (256, 256)) if args.quick else (args.model, args.size)
    result = benchmark_runtime_auto(spec, size, runs=args.runs, log=lambda line: print(line, file=sys.stderr))
    print(format_runtime_auto_markdown(result))
    write_json(result, args.json)
    print(f'results written to {args.json}', file=sys.stderr)
    return 0
