"""Training curves (losses, validation metrics, learning rate) from BasicSR logs or tensorboard events.

Example:
    python scripts/plot_curves.py experiments/NAFNet-GoPro experiments/UNet-GoPro --out curves.png
"""
from ..cli import ArgumentParser, check_output_file, command, positive_int
from ..evaluation.curves import plot_curves


@command()
def main(argv=None, prog='plot_curves.py'):
    p = ArgumentParser(prog=prog, description=__doc__)
    p.add_argument('experiments',
                   nargs='+',
                   help='experiment folders (experiments/<name>), train_*.log files, or tensorboard folders')
    p.add_argument('--out', required=True, help='PNG to write')
    p.add_argument('--width', type=positive_int, default=900)
    args = p.parse_args(argv)
    check_output_file(args.out, '--out', suffixes=('.png', ))
    path, _ = plot_curves(args.experiments, args.out, width=args.width)
    print(path)
    return 0
