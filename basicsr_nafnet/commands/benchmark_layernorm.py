"""Peak memory and time of a NAFNet training step: our LayerNorm2d vs a plain autograd one.

    python scripts/benchmark_layernorm.py                 # NAFNet-width32 GoPro, batch 4 x 3 x 256 x 256
    python scripts/benchmark_layernorm.py --quick         # tiny network, seconds
"""
from ..bench.configs import TINY_CONFIGS
from ..bench.layernorm import benchmark_layernorm, format_layernorm_markdown
from ..bench.report import write_json
from ..cli import ArgumentParser, check_output_file, command, parse_device, positive_int


def build_parser(prog='benchmark_layernorm.py'):
    parser = ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--batch', type=positive_int, default=4)
    parser.add_argument('--size', type=positive_int, default=256, help='square crop size (default: 256)')
    parser.add_argument('--runs', type=positive_int, default=3, help='timed steps per variant (default: 3)')
    parser.add_argument('--quick', action='store_true', help='tiny NAFNet and crops (smoke test)')
    parser.add_argument('--json', default='benchmark_layernorm.json')
    return parser


@command(interrupted='stopped; no results were written')
def main(argv=None, prog='benchmark_layernorm.py'):
    args = build_parser(prog).parse_args(argv)
    parse_device(args.device)
    check_output_file(args.json, '--json', suffixes=('.json', ))
    config, batch, size = None, args.batch, args.size
    if args.quick:
        config = TINY_CONFIGS['NAFNet']
        batch, size = 2, 32
    results = benchmark_layernorm(config=config, batch=batch, size=(size, size), runs=args.runs, device=args.device)
    print(format_layernorm_markdown(results))
    write_json(results, args.json)
    print(f'results written to {args.json}')
    return 0
