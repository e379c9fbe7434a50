"""Deblur your own photographs with a trained model.

Examples:
    python scripts/deblur.py -i photos/ -o deblurred/ --model options/test/GoPro/NAFNet-width32.yml
    python scripts/deblur.py -i shot.jpg -o out/ \\
        --model "NAFNet:width=32,enc_blk_nums=[1,1,1,28]@experiments/pretrained_models/NAFNet-GoPro-width32.pth" \\
        --tile 512 --tile-overlap 32
    python scripts/deblur.py -i photos/ -o deblurred/ --model net.onnx        # exported by scripts/export.py
    python scripts/deblur.py -i photos/ -o deblurred/ --model NAFNet-GoPro --runtime openvino

Exit status: 0 when every image was written, 1 when some failed (each is reported), 2 when nothing
could start (bad argument, model, checkpoint, device or input; checked before any image is processed),
130 when interrupted (the images written so far are complete).
"""
import sys

from ..cli import (EXIT_FAILED, ArgumentParser, add_threads_argument, apply_threads, command, int_at_least,
                   non_negative_int, parse_device)
from ..ops.tiling import MIN_TILE
from ..inference import RUNTIME_CHOICES, open_model
from ..inference.deblur import deblur_files, plan_outputs
from ..inference.photo import photo_size
from ..inference.runtime_choice import Workload
from ..ops.host_memory import reused_host_memory


def build_parser(prog='deblur.py'):
    p = ArgumentParser(prog=prog, description=__doc__)
    p.add_argument('-i', '--input', nargs='+', required=True, help='image files and/or folders (PNG/JPG/BMP/TIFF)')
    p.add_argument('-o', '--output', required=True, help='output folder (folder structure is mirrored)')
    p.add_argument('--model',
                   required=True,
                   metavar='SPEC',
                   help='a pretrained model by name (NAFNet-GoPro-width32, NAFNet-GoPro-width64, '
                   'Baseline-GoPro-width32, ...: downloaded into the cache on first use), an option file (.yml), '
                   'ARCH[:k=v,...]@CHECKPOINT (a file, URL or model name), an option name of this project (either '
                   'with @CHECKPOINT: its network, those weights), or an .onnx file from scripts/export.py')
    p.add_argument('--tile', type=int_at_least(MIN_TILE), default=None,
                   help=f'tile size for large images, at least {MIN_TILE} (default: whole image)')
    p.add_argument('--tile-overlap', type=non_negative_int, default=32, help='tile overlap, blended (default 32)')
    p.add_argument('--device', default=None, help='torch device (default: cuda if available, else cpu)')
    precision = p.add_mutually_exclusive_group()
    precision.add_argument('--half', action='store_const', const='fp16', dest='precision',
                           help='float16 weights (GPUs)')
    precision.add_argument('--bf16', action='store_const', const='bf16', dest='precision',
                           help='bfloat16 weights (fast only on CPUs with AVX-512 BF16/AMX, and GPUs)')
    p.add_argument('--compile', action='store_true',
                   help='torch.compile the network (minutes of compiling first; pays off on many same-sized images, '
                   'see docs/speed.md)')
    p.add_argument('--runtime', choices=RUNTIME_CHOICES, default='auto',
                   help='auto (default): the fastest exact runtime for this machine, model and image size, measured '
                   'once and remembered (docs/speed.md); torch: PyTorch; onnxruntime / openvino: the model is '
                   'exported to ONNX once (cached beside the checkpoint) and runs there, on the CPU')
    add_threads_argument(p)
    p.add_argument('--ext', default='png', help="output format: png (default), tif, jpg, ... or 'same' as the input")
    p.add_argument('--suffix', default='', help='appended to output names, e.g. _deblurred')
    return p


@command(interrupted='stopped; the images written so far are complete, none is half-written')
def main(argv=None, prog='deblur.py'):
    args = build_parser(prog).parse_args(argv)
    # every check that needs no network first, so a typo fails in a second, not after loading the model
    device = parse_device(args.device)
    plan = plan_outputs(args.input, args.output, args.ext, args.suffix)
    apply_threads(args.threads)
    workload = Workload.of_images(filter(None, (photo_size(path) for path, _ in plan)), args.tile)
    model = open_model(args.model, device, args.runtime, args.precision or 'fp32', args.compile,
                       needs_weights='deblurring', log=lambda msg: print(msg, file=sys.stderr), workload=workload)
    runner = model.runner
    print(f"model: {model.name}; weights: {model.checkpoint or 'random (untrained)'}; "
          f"runs on: {model.runtime or 'PyTorch'} ({device})", file=sys.stderr)
    with reused_host_memory():  # freed feature maps stay for the next image or tile too, not only within a call
        result = deblur_files(runner, args.input, args.output, device=device, tile=args.tile,
                              overlap=args.tile_overlap, ext=args.ext, suffix=args.suffix, plan=plan)
    for (path, out_path), seconds in zip(result.written, result.seconds):
        print(f'{path} -> {out_path} ({seconds:.2f} s)', file=sys.stderr)
    for path, message in result.failed:
        print(f'failed: {message}', file=sys.stderr)
    print(f'{len(result.written)} written to {args.output}, {len(result.failed)} failed', file=sys.stderr)
    return EXIT_FAILED if result.failed else 0
