"""Export a trained model to ONNX, then check the file with ONNX Runtime against PyTorch float32.

Examples:
    python scripts/export.py --model options/test/GoPro/NAFNet-width32.yml --out NAFNet-width32.onnx
    python scripts/export.py --model "NAFNet:width=32,enc_blk_nums=[1,1,1,28]@NAFNet-GoPro-width32.pth" \\
        --out nafnet32.onnx --static 720x1280

The inference network is exported (fused where the arch has fuse()), with dynamic batch, height and width
unless --static fixes them (batch 1). The file is then run by ONNX Runtime on random inputs of 1x397x517 and
2x128x192 (only the --static size with --static) and compared with the PyTorch network; it is kept only if the
max abs difference stays within 1e-4 (scaled by the output's magnitude where that exceeds 1).

Exit status: 0 exported and verified; 1 exported but ONNX Runtime differs from PyTorch (nothing written);
2 nothing could start (bad argument, model, checkpoint, a missing package, an arch the exporter cannot
capture); 130 interrupted (nothing written).
"""
import argparse
import sys

from ..cli import (EXIT_FAILED, ArgumentParser, add_threads_argument, apply_threads, check_output_file, command,
                   positive_int)
from ..errors import UserError
from ..inference import open_model
from ..inference.export import (MIN_OPSET, VERIFY_SIZES, VERIFY_TOLERANCE, VerificationError,
                                describe_verification, export_onnx, verify_onnx)
from ..inference.runtimes import require


def parse_size(text):
    try:
        h, w = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not HxW, e.g. 720x1280") from None
    if h < 2 or w < 2:
        raise argparse.ArgumentTypeError(f"'{text}': height and width must be at least 2")
    return h, w


def build_parser(prog='export.py'):
    p = ArgumentParser(prog=prog, description=__doc__)
    p.add_argument('--model', required=True, metavar='SPEC',
                   help='a pretrained model by name (e.g. NAFNet-GoPro-width64), an option file (.yml), '
                   'ARCH[:k=v,...]@CHECKPOINT (a file, URL or model name), or an option name of this project '
                   '(either with @CHECKPOINT: its network, those weights)')
    p.add_argument('--out', required=True, help='the .onnx file to write (one self-contained file)')
    p.add_argument('--opset', type=positive_int, default=None,
                   help=f'ONNX operator set (default {MIN_OPSET}, the exporter\'s own; at least {MIN_OPSET})')
    p.add_argument('--static', type=parse_size, default=None, metavar='HxW',
                   help='export for 1 x C x H x W inputs of this size only (default: dynamic batch, height, width)')
    add_threads_argument(p)
    return p


@command(interrupted='stopped; nothing was written')
def main(argv=None, prog='export.py'):
    args = build_parser(prog).parse_args(argv)
    # every check that needs no network first
    check_output_file(args.out, '--out', suffixes=('.onnx', ))
    apply_threads(args.threads)
    if args.opset is not None:
        onnx = require('onnx', 'exporting to ONNX')
        newest = onnx.defs.onnx_opset_version()
        if not MIN_OPSET <= args.opset <= newest:
            raise UserError(f'--opset {args.opset}: choose {MIN_OPSET} to {newest} (this onnx package\'s newest)')
    for package in ('onnx', 'onnxscript', 'onnxruntime'):
        require(package, 'scripts/export.py')
    if args.model.lower().endswith('.onnx'):
        raise UserError(f'--model {args.model}: already an ONNX file; export a PyTorch spec (.yml, ARCH@checkpoint)')
    model = open_model(args.model, 'cpu', needs_weights='exporting')
    spec, net = model.spec, model.net
    sizes = [(1, *args.static)] if args.static else VERIFY_SIZES
    print(f'exporting {spec.name} ({type(net).__name__}) ...', file=sys.stderr)
    try:
        info = export_onnx(net, args.out, opset=args.opset, static=args.static, name=type(net).__name__,
                           metadata=dict(source=args.model),
                           verify=lambda path: verify_onnx(net, path, sizes, tolerance=VERIFY_TOLERANCE))
    except VerificationError as err:
        print(f'error: {err}; {args.out} was not written', file=sys.stderr)
        return EXIT_FAILED
    shape = f"static 1x{args.static[0]}x{args.static[1]}" if args.static else 'dynamic batch, height, width'
    print(f"exported {type(net).__name__}{' (fused)' if info['fused'] else ''} to {args.out}: "
          f"{info['bytes'] / 2**20:.1f} MB, opset {info['opset']}, {shape}, {info['seconds']:.0f} s")
    print(describe_verification(info['verify']))
    return 0
