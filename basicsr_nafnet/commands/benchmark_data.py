"""Benchmark the GoPro data pipeline on synthetic GoPro-size data and print the numbers.

    python scripts/benchmark_data.py --pairs 16 --workdir /tmp/bench_data

Measures conversion throughput with 1 and 2 workers, the two-pass route (PNG crops on disk, then
basicsr's make_lmdb_from_imgs) on the same data, and random crop reads per second from LMDB vs PNG files.
"""
import json
import os
import platform
import tempfile

from ..cli import ArgumentParser, check_output_dir, check_output_file, command, positive_int
from ..bench.data import format_report, run_benchmark
from ..fileio import atomic_write


def parse_args(argv=None, prog='benchmark_data.py'):
    parser = ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument('--pairs', type=positive_int, default=16, help='synthetic training pairs')
    parser.add_argument('--height', type=positive_int, default=720)
    parser.add_argument('--width', type=positive_int, default=1280)
    parser.add_argument('--crop-size', type=positive_int, default=512)
    parser.add_argument('--step', type=positive_int, default=256)
    parser.add_argument('--reads', type=positive_int, default=400, help='random reads per backend')
    parser.add_argument('--workdir', help='scratch folder (default: a new temporary folder)')
    parser.add_argument('--keep', action='store_true', help='keep the scratch folder')
    parser.add_argument('--json', help='also write the numbers to this JSON file')
    return parser.parse_args(argv)


@command(interrupted='stopped; no results were written')
def main(argv=None, prog='benchmark_data.py'):
    args = parse_args(argv, prog)
    if args.workdir:
        check_output_dir(args.workdir, '--workdir')
    if args.json:
        check_output_file(args.json, '--json', suffixes=('.json', ))
    workdir = args.workdir or tempfile.mkdtemp(prefix='bench_data_')
    results = run_benchmark(workdir, pairs=args.pairs, size=(args.height, args.width), crop_size=args.crop_size,
                            step=args.step, reads=args.reads, keep=args.keep)
    results['machine'] = (f'{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, '
                          f'Python {platform.python_version()}')
    print(format_report(results))
    print(results['machine'])
    if args.json:
        atomic_write(args.json, json.dumps(results, indent=1))
    return 0
