"""Convert GoPro (or any blur/sharp dataset in a known layout, folder or zip) to BasicSR LMDBs.

    python scripts/prepare_gopro.py --input datasets/GOPRO_Large.zip --output datasets/GoPro
    python scripts/prepare_gopro.py --input datasets/synthetic_gopro --crop-size 128 --step 64 --verify

See docs/data.md for the layouts and the outputs.
"""
import os
from urllib.parse import urlparse


from ..cli import ArgumentParser, check_output_dir, command, non_negative_int, positive_int
from ..data.download import download
from ..data.prepare import prepare_gopro
from ..errors import UserError


def parse_args(argv=None, prog='prepare_gopro.py'):
    parser = ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument('--input', required=True,
                        help='dataset folder or .zip (GOPRO_Large, flattened blur/sharp, NAFNet input/target, HIDE); '
                        'with --download, where the downloaded file is saved')
    parser.add_argument('--output', help='output root (default: the input folder; for a zip, a folder beside it)')
    parser.add_argument('--crop-size', type=non_negative_int, default=512,
                        help='training crop side; 0 keeps full images')
    parser.add_argument('--step', type=positive_int, default=256, help='distance between training crops')
    parser.add_argument('--workers', type=non_negative_int, default=None,
                        help='worker processes (default: all cores; 0: none)')
    parser.add_argument('--blur-dir', default='blur', choices=['blur', 'blur_gamma'], help='GOPRO_Large blurred folder')
    parser.add_argument('--splits', nargs='+', choices=['train', 'test'], help='splits to convert (default: all found)')
    parser.add_argument('--compress-level', type=int, default=1, choices=range(10), metavar='0-9',
                        help='PNG compression level of the stored images (default: 1)')
    parser.add_argument('--overwrite', action='store_true', help='replace existing output LMDBs')
    parser.add_argument('--verify', action='store_true', help='decode every record afterwards and compare both sides')
    parser.add_argument('--download', metavar='URL', help='download the archive from URL to --input first (resumable)')
    parser.add_argument('--sha256', help='expected SHA-256 of the download')
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')
    return parser.parse_args(argv)


@command(interrupted='conversion stopped; splits finished before are complete and kept, the one in progress was '
         'removed: run the same command again to convert the rest')
def main(argv=None, prog='prepare_gopro.py'):
    args = parse_args(argv, prog)
    if args.output is not None:
        check_output_dir(args.output, '--output')
    if args.download:
        if urlparse(args.download).scheme not in ('http', 'https'):
            raise UserError(f'--download {args.download!r}: expected an http:// or https:// URL')
        if os.path.isdir(args.input):
            raise UserError(f'--input {args.input}: a folder; with --download it names the file to save to')
        download(args.download, args.input, sha256=args.sha256, progress=not args.no_progress)
    paths = prepare_gopro(args.input, args.output, crop_size=args.crop_size, step=args.step, workers=args.workers,
                          overwrite=args.overwrite, verify=args.verify, blur_dir=args.blur_dir, splits=args.splits,
                          compress_level=args.compress_level, progress=not args.no_progress)
    for split, sides in paths.items():
        print(f'{split}: dataroot_lq: {sides["lq"]}\n{" " * len(split)}  dataroot_gt: {sides["gt"]}')
    return 0
