#!/usr/bin/env python
"""Training curves (losses, validation metrics, learning rate) from BasicSR logs or tensorboard events.

Example:
    python scripts/plot_curves.py experiments/NAFNet-GoPro experiments/UNet-GoPro --out curves.png
"""
import argparse
import sys

from basicsr_nafnet.visualize.curves import plot_curves


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('experiments',
                   nargs='+',
                   help='experiment folders (experiments/<name>), train_*.log files, or tensorboard folders')
    p.add_argument('--out', required=True, help='PNG to write')
    p.add_argument('--width', type=int, default=900)
    args = p.parse_args(argv)
    try:
        path, _ = plot_curves(args.experiments, args.out, width=args.width)
    except (ValueError, OSError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
