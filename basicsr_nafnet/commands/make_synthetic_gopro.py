"""Make a GoPro-like blurred/sharp dataset (GOPRO_Large layout) from scikit-image's photographs.

    python scripts/make_synthetic_gopro.py --output datasets/synthetic_gopro --train 300 --test 40 --size 256x256

Then: python scripts/prepare_gopro.py --input datasets/synthetic_gopro --crop-size 128 --step 64
"""
import argparse
import math

from ..cli import ArgumentParser, check_output_dir, command, non_negative_float, non_negative_int, positive_int
from ..data.synthetic import GREY_PHOTOS, PHOTO_ORDERS, TEST_PHOTOS, TRAIN_PHOTOS, make_synthetic_gopro


def parse_size(text):
    """'256x320' -> (256, 320) as (H, W); '256' -> (256, 256)."""
    try:
        parts = [int(v) for v in text.lower().split('x')]
    except ValueError:
        raise argparse.ArgumentTypeError(f'size must look like 256 or 256x320 (HxW), got {text!r}')
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f'size must look like 256 or 256x320 (HxW), got {text!r}')
    if min(parts) < 8:
        raise argparse.ArgumentTypeError(f'each side must be at least 8 pixels, got {text!r}')
    return tuple(parts)


def parse_range(text):
    """'2,8' -> (2.0, 8.0)."""
    try:
        low, high = (float(v) for v in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected two numbers like 2,8, got {text!r}')
    if not 0 <= low <= high < math.inf:  # nan fails every comparison
        raise argparse.ArgumentTypeError(f'expected finite 0 <= low <= high, got {text!r}')
    return low, high


def parse_photos(text):
    """'astronaut.png,camera.png' -> ('astronaut.png', 'camera.png'); each is checked by the generator."""
    names = tuple(v.strip() for v in text.split(','))
    if not all(names):
        raise argparse.ArgumentTypeError(f'expected file names separated by commas, got {text!r}')
    return names


def parse_args(argv=None, prog='make_synthetic_gopro.py'):
    parser = ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument('--output', required=True, help='folder to create')
    parser.add_argument('--train', type=non_negative_int, default=200, help='training pairs')
    parser.add_argument('--test', type=non_negative_int, default=40, help='test pairs (from other photographs)')
    parser.add_argument('--size', type=parse_size, default=(256, 256), help='HxW of each image')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--blur-px', type=parse_range, default=(2.0, 8.0),
                        help='range of camera path lengths in pixels (blur strength), e.g. 2,8')
    parser.add_argument('--max-rotation', type=non_negative_float, default=0.5,
                        help='largest rotation over the exposure (degrees)')
    parser.add_argument('--zoom', type=parse_range, default=None,
                        help="range of the photographs' magnification, e.g. 2,3 (smoother content: GoPro-like PSNR "
                        'at long blur; default: from filling the frame up to 1)')
    parser.add_argument('--train-photos', type=parse_photos, default=None, metavar='A.png,B.png',
                        help=f"training photographs, files in scikit-image's skimage/data (default: "
                        f"{','.join(TRAIN_PHOTOS)}; grey ones too, e.g. {','.join(GREY_PHOTOS)})")
    parser.add_argument('--test-photos', type=parse_photos, default=None, metavar='A.png,B.png',
                        help=f"test photographs, none of them a training one (default: {','.join(TEST_PHOTOS)})")
    parser.add_argument('--photo-order', choices=PHOTO_ORDERS, default='random',
                        help='each 20-frame sequence draws its photograph (random, the default) or takes them in '
                        'turn (cycle: equal shares)')
    parser.add_argument('--workers', type=positive_int, default=1, help='render in this many processes')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing output folder this script made (any other folder is refused)')
    parser.add_argument('--no-progress', action='store_true')
    return parser.parse_args(argv)


@command(interrupted='stopped; nothing was written to --output (the unfinished folder was removed)')
def main(argv=None, prog='make_synthetic_gopro.py'):
    args = parse_args(argv, prog)
    check_output_dir(args.output, '--output')
    out = make_synthetic_gopro(args.output, train=args.train, test=args.test, size=args.size, seed=args.seed,
                               progress=not args.no_progress, blur_px=args.blur_px, max_rotation=args.max_rotation,
                               zoom=args.zoom, workers=args.workers, overwrite=args.overwrite,
                               train_photos=args.train_photos, test_photos=args.test_photos,
                               photo_order=args.photo_order)
    print(f'wrote {args.train} train / {args.test} test pairs to {out}')
    return 0
