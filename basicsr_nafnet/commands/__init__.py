"""Every command of this project under one name: ``basicsr-nafnet <command> [args]`` (installed by ``pip install .``).

Each command is a module here with ``main(argv=None, prog=...)``; ``scripts/<name>.py`` in a checkout are thin
wrappers over the same functions, so ``python scripts/deblur.py ...`` and ``basicsr-nafnet deblur ...`` behave alike.
"""
import importlib
import sys

from ..cli import EXIT_USAGE

__all__ = ['COMMANDS', 'main']

PROG = 'basicsr-nafnet'
# name -> (module that holds main, one line for --help); modules are imported only when their command runs
COMMANDS = {
    'train': ('basicsr_nafnet.train', 'train with BasicSR from an option file (-opt FILE or a shipped name)'),
    'test': ('basicsr_nafnet.test', 'test with BasicSR from an option file (-opt FILE or a shipped name)'),
    'demo': ('basicsr_nafnet.demo', 'synthetic data, a short CPU training run, the results table'),
    'deblur': ('basicsr_nafnet.commands.deblur', 'deblur your own photographs with a model (a name, file or URL)'),
    'leaderboard': ('basicsr_nafnet.commands.leaderboard', 'score models on a paired test set (PSNR, SSIM, speed)'),
    'compare': ('basicsr_nafnet.commands.compare', 'comparison figures: blur | models ... | sharp'),
    'export': ('basicsr_nafnet.commands.export', 'export a model to ONNX and verify it against PyTorch'),
    'prepare': ('basicsr_nafnet.commands.prepare_gopro', 'convert GoPro (or a known layout) to BasicSR LMDBs'),
    'synthetic': ('basicsr_nafnet.commands.make_synthetic_gopro', 'make a GoPro-like blurred/sharp data set'),
    'plot-curves': ('basicsr_nafnet.commands.plot_curves', 'training curves from logs or tensorboard events'),
    'benchmark': ('basicsr_nafnet.commands.benchmark', 'speed and memory of the archs per execution path'),
    'benchmark-data': ('basicsr_nafnet.commands.benchmark_data', 'speed of the data conversion and of LMDB reads'),
    'benchmark-layernorm': ('basicsr_nafnet.commands.benchmark_layernorm',
                            "memory and time of our LayerNorm2d against a plain one"),
    'benchmark-runtime': ('basicsr_nafnet.commands.benchmark_runtime',
                          'the fastest exact runtime for a model here, and what --runtime auto picks'),
}


def usage():
    """The text of ``basicsr-nafnet --help``: the commands, one line each."""
    width = max(map(len, COMMANDS))
    lines = [f'usage: {PROG} <command> [args]   ({PROG} <command> --help for its arguments)', '', 'commands:']
    lines += [f'  {name:<{width}}  {summary}' for name, (_, summary) in COMMANDS.items()]
    return '\n'.join(lines)


def main(argv=None):
    """Run ``argv[0]`` as a command with the rest of ``argv``; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ('-h', '--help'):
        print(usage())
        return 0 if argv else EXIT_USAGE
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"{PROG}: error: unknown command {name!r}; choose from: {', '.join(COMMANDS)} (see --help)",
              file=sys.stderr)
        return EXIT_USAGE
    module = importlib.import_module(COMMANDS[name][0])
    return module.main(rest, prog=f'{PROG} {name}')
