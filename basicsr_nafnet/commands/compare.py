"""Comparison figures: blur | model A | model B | ... | sharp, PSNR-labelled, with a zoomed crop.

Examples:
    python scripts/compare.py --data datasets/GoPro/test --model options/test/GoPro/NAFNet-width32.yml \\
        --model "UNet@experiments/unet/models/net_g_latest.pth" --key GOPR0384_11_00-000001 --out figures
    python scripts/compare.py --data datasets/GoPro/test --model A.yml --model B.yml \\
        --per-image results/leaderboard/per_image.csv --top 4 --by loss --out figures
"""
from ..cli import (ArgumentParser, add_threads_argument, apply_threads, check_output_dir, command, int_at_least,
                   non_negative_int, parse_device, positive_int)
from ..ops.tiling import MIN_TILE
from ..evaluation import compare_models


def build_parser(prog='compare.py'):
    p = ArgumentParser(prog=prog, description=__doc__)
    p.add_argument('--data', required=True, help='paired test set (as for scripts/leaderboard.py)')
    p.add_argument('--model', action='append', required=True, metavar='SPEC', help='repeatable model spec')
    p.add_argument('--key', action='append', default=None, help='image key to show (repeatable)')
    p.add_argument('--per-image', default=None, help="a leaderboard's per_image.csv to pick images from")
    p.add_argument('--top', type=positive_int, default=4, help='how many images to pick (default 4)')
    p.add_argument('--by', choices=('gain', 'loss'), default='gain', help='pick the largest PSNR gains or losses')
    p.add_argument('--rank-by', default=None, help='row of per_image.csv to rank by (default: the first model)')
    p.add_argument('--tile', type=int_at_least(MIN_TILE), default=None, help=f'tiled inference (at least {MIN_TILE})')
    p.add_argument('--tile-overlap', type=non_negative_int, default=32)
    p.add_argument('--crop-size', type=positive_int, default=None,
                   help='side of the zoomed region (default: 1/4 of the image)')
    p.add_argument('--max-width', type=positive_int, default=640, help='downscale panels wider than this (default 640)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--out', required=True, help='folder for <key>.png')
    add_threads_argument(p)
    return p


@command(interrupted='stopped; the figures written so far are complete')
def main(argv=None, prog='compare.py'):
    args = build_parser(prog).parse_args(argv)
    device = parse_device(args.device)
    check_output_dir(args.out, '--out')
    apply_threads(args.threads)
    paths = compare_models(args.data,
                           args.model,
                           args.out,
                           keys=args.key,
                           per_image_csv=args.per_image,
                           top=args.top,
                           mode=args.by,
                           rank_by=args.rank_by,
                           tile=args.tile,
                           overlap=args.tile_overlap,
                           crop_size=args.crop_size,
                           max_panel_width=args.max_width,
                           device=device)
    print('\n'.join(paths))
    return 0
