"""Leaderboard on a paired test set by the GoPro protocol (PSNR, 3-D SSIM, size, cost, speed).

Examples:
    python scripts/leaderboard.py --data datasets/GoPro/test                     # the input row only
    python scripts/leaderboard.py --data datasets/GoPro/test --published \\
        --model options/test/GoPro/NAFNet-width32.yml \\
        --model "NAFNet:width=64,enc_blk_nums=[1,1,1,28]@experiments/pretrained_models/NAFNet-GoPro-width64.pth" \\
        --tlc --x8 --out results/leaderboard
    python scripts/leaderboard.py --data datasets/GoPro/test --model net.onnx        # an exported network
    python scripts/leaderboard.py --data datasets/GoPro/test --model NAFNet-GoPro --runtime openvino
"""
import sys

from ..cli import (ArgumentParser, add_threads_argument, apply_threads, check_output_dir, command, int_at_least,
                   non_negative_int, parse_device, positive_int)
from ..ops.tiling import MIN_TILE
from ..evaluation import run_leaderboard
from ..inference import RUNTIME_CHOICES


def build_parser(prog='leaderboard.py'):
    p = ArgumentParser(prog=prog, description=__doc__)
    p.add_argument('--data',
                   required=True,
                   help='test set: a dataset folder/zip in any detected layout (test split), a folder with '
                   'input/ + target/ images, or a folder with input.lmdb + target.lmdb')
    p.add_argument('--model',
                   action='append',
                   default=[],
                   metavar='SPEC',
                   help='repeatable: an option file (.yml), ARCH[:k=v,...]@CHECKPOINT, an option name of '
                   'this project (e.g. NAFNet-GoPro; either with @CHECKPOINT: its network, those weights), or an '
                   '.onnx file from scripts/export.py')
    p.add_argument('--tlc', action='store_true', help='add a row per model with the test-time local converter')
    p.add_argument('--tlc-train-size', type=positive_int, default=256,
                   help='training crop size (default 256, the GoPro recipes): TLC uses it, and plain networks with '
                   'global pooling scored on larger frames get a warning')
    p.add_argument('--tile', type=int_at_least(MIN_TILE), default=None,
                   help=f'add a row per model with tiled inference of this tile (at least {MIN_TILE})')
    p.add_argument('--tile-overlap', type=non_negative_int, default=32, help='tile overlap in pixels (default 32)')
    p.add_argument('--x8', action='store_true', help='add a row per model with x8 self-ensemble')
    p.add_argument('--ssim-2d', action='store_true', help="also report BasicSR's per-channel 2-D SSIM")
    p.add_argument('--published', action='store_true', help='add published GoPro results (not measured here)')
    p.add_argument('--out',
                   default=None,
                   help='write leaderboard.json, leaderboard.csv, per_image.csv here '
                   '(and a cache that makes re-runs resume)')
    p.add_argument('--fresh', action='store_true', help='ignore and clear the per-image cache under --out')
    p.add_argument('--device', default=None, help='torch device (default: cuda if available, else cpu)')
    p.add_argument('--precision', choices=['fp32', 'bf16', 'fp16'], default='fp32',
                   help='fp32 (default: fused, channels_last, exact) or low-precision weights (see docs/speed.md)')
    p.add_argument('--compile', action='store_true',
                   help='torch.compile each network (minutes of compiling first; see docs/speed.md)')
    p.add_argument('--runtime', choices=RUNTIME_CHOICES, default='auto',
                   help='auto (default): per model, the fastest exact runtime for this machine at the test set\'s '
                   'size, measured once and remembered; torch: PyTorch; onnxruntime / openvino: PyTorch specs are '
                   'exported to ONNX once (cached beside the checkpoint) and run there, on the CPU (docs/speed.md)')
    add_threads_argument(p)
    return p


@command(interrupted='stopped; the images scored so far are cached under --out, the same command resumes there')
def main(argv=None, prog='leaderboard.py'):
    args = build_parser(prog).parse_args(argv)
    device = parse_device(args.device)
    if args.out is not None:
        check_output_dir(args.out, '--out')
    apply_threads(args.threads)
    result = run_leaderboard(args.data,
                             args.model,
                             tlc=args.tlc,
                             tlc_train_size=args.tlc_train_size,
                             tile=args.tile,
                             overlap=args.tile_overlap,
                             x8=args.x8,
                             ssim_2d=args.ssim_2d,
                             published=args.published,
                             out_dir=args.out,
                             device=device,
                             resume=not args.fresh,
                             precision=args.precision,
                             compile=args.compile,
                             runtime=args.runtime,
                             log=lambda msg: print(msg, file=sys.stderr))
    print(result['markdown'])
    if result['paths']:
        print('written: ' + ', '.join(result['paths'].values()), file=sys.stderr)
    return 0
