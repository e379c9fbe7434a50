"""The CPU demo: synthetic GoPro-like data -> LMDB -> training through BasicSR -> leaderboard table.

``bash scripts/demo.sh`` runs :func:`main`. Every step resumes: data already made is kept, an interrupted
training continues from its last checkpoint (``--auto_resume``), a finished one is not repeated.
``--ladder`` runs the shortened ladder (:mod:`basicsr_nafnet.ladder`, budget 'cpu-clip'): every rung of :data:`LADDER`
with two seeds on long camera-shake blur, then the ladder table and figures (:func:`run_ladder`).
"""
import dataclasses
import json
import os
import os.path as osp
import subprocess
import sys

from .cli import ArgumentParser, check_output_dir, command, positive_int
from .errors import UserError
from .fileio import atomic_write
from .engine.experiment import checkpoint_path, experiment_paths, run_finished
from .engine.options import load_options, project_option_file
from .ladder import LADDER

__all__ = ['DEMO_DATA', 'LADDER', 'lmdbs_complete', 'read_stamp', 'ensure_demo_data',
           'train_demo', 'run_demo', 'run_ladder', 'main']

# 120 training pairs cut into 128x128 crops (1080 crops) and 20 held-out test pairs, all 256x256
DEMO_DATA = dict(train=120, test=20, size=(256, 256), seed=0)
DEMO_CROP, DEMO_STEP = 128, 64
DEMO_MODELS = {'NAFNet': 'demo/NAFNet-demo.yml', 'DeblurUNet': 'demo/UNet-demo.yml',
               'ResidualCNN': 'demo/ResidualCNN-demo.yml'}  # under options/ (see engine.options.options_root)


def lmdbs_complete(data_dir):
    """Whether ``data_dir`` holds the four LMDBs with their meta_info."""
    return all(osp.isfile(osp.join(data_dir, split, name, 'meta_info.txt'))
               for split, names in (('train', ('blur_crops.lmdb', 'sharp_crops.lmdb')),
                                    ('test', ('input.lmdb', 'target.lmdb'))) for name in names)


def read_stamp(path):
    """The recipe the data was made with, or None (missing or unreadable: the data is made again)."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def ensure_demo_data(data_dir, log=print):
    """Make the synthetic set and its LMDBs under ``data_dir`` unless they are there, made with these settings."""
    from .data.prepare import prepare_gopro
    from .data.synthetic import make_synthetic_gopro

    recipe = dict(DEMO_DATA, size=list(DEMO_DATA['size']), crop=DEMO_CROP, step=DEMO_STEP)
    stamp = osp.join(data_dir, 'demo_recipe.json')
    if lmdbs_complete(data_dir) and read_stamp(stamp) == recipe:
        log(f'[demo] data: reusing {data_dir}')
        return data_dir
    log(f"[demo] data: {DEMO_DATA['train']} training and {DEMO_DATA['test']} held-out GoPro-like pairs -> {data_dir}")
    make_synthetic_gopro(data_dir, overwrite=True, **DEMO_DATA)
    prepare_gopro(data_dir, crop_size=DEMO_CROP, step=DEMO_STEP, overwrite=True)
    atomic_write(stamp, json.dumps(recipe))  # written last: its presence means the data is complete
    return data_dir


def train_demo(option_file, root, iters=None, log=print, val_freq=None):
    """Train one demo model through ``python -m basicsr_nafnet.train`` (a fresh process, resumable).

    Args:
        option_file (str): A demo option file.
        root (str): Where ``experiments/`` goes.
        iters (int, optional): Train this many iterations instead (a quick look; the run is named
            ``<name>-<iters>it`` so it never mixes with the full one).
        val_freq (int, optional): With ``iters``: validate every this many iterations (default: once, at the end).

    Returns:
        tuple: The options as run and the path of the final checkpoint.
    """
    opt = load_options(option_file)
    overrides = []
    if iters is not None:
        opt['name'] = f"{opt['name']}-{iters}it"
        opt['train']['total_iter'] = opt['train']['scheduler']['T_max'] = iters
        opt['val']['val_freq'] = val_freq or iters
        overrides = [f"name={opt['name']}", f'train:total_iter={iters}', f'train:scheduler:T_max={iters}',
                     f"val:val_freq={opt['val']['val_freq']}", f'logger:save_checkpoint_freq={iters}',
                     f'logger:print_freq={max(1, iters // 10)}']
    checkpoint = checkpoint_path(opt['name'], root)
    if run_finished(opt['name'], root, opt['train']['total_iter']):
        log(f"[demo] {opt['name']}: already trained ({checkpoint})")
        return opt, checkpoint
    log(f"[demo] training {opt['name']}: {opt['train']['total_iter']} iterations on the CPU")
    cmd = [sys.executable, '-m', 'basicsr_nafnet.train', '-opt', option_file, '--auto_resume']
    if overrides:
        cmd += ['--force_yml', *overrides]
    package_parent = osp.dirname(osp.dirname(osp.abspath(__file__)))  # importable from any working directory
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (package_parent, os.environ.get('PYTHONPATH')) if p))
    status = subprocess.run(cmd, cwd=root, env=env).returncode
    if status == 130:
        raise KeyboardInterrupt
    if status != 0:
        raise UserError(f"training {opt['name']} stopped with exit status {status} (its message is above); "
                        'run the demo again to resume it')
    return opt, checkpoint


def _model_spec(option_file, opt, checkpoint, root, iters):
    """The leaderboard spec: the option file itself when run from ``root``, else its network and the checkpoint
    (rows named after the run either way)."""
    if iters is None and osp.samefile(root, os.getcwd()):
        return option_file
    return dict(network=dict(opt['network_g']), checkpoint=checkpoint)


def run_demo(root='.', models=('NAFNet', ), iters=None, log=print):
    """Data, training and the input-vs-restored table on the held-out synthetic test set.

    Returns:
        dict: The leaderboard result (``rows``, ``markdown``, ...).
    """
    from .evaluation.leaderboard import run_leaderboard

    root = osp.abspath(root)
    data_dir = ensure_demo_data(osp.join(root, 'datasets', 'synthetic_gopro'), log)
    specs, runs, trained = [], [], []
    for model in models:
        option_file = project_option_file(DEMO_MODELS[model])
        opt, checkpoint = train_demo(option_file, root, iters, log)
        runs.append(experiment_paths(opt['name'], root)['experiments_root'])
        specs.append(_model_spec(option_file, opt, checkpoint, root, iters))
        trained.append(f'{osp.splitext(osp.basename(option_file))[0]}@{_shown_path(checkpoint)}')
    log('[demo] evaluating on the held-out synthetic test set')
    result = run_leaderboard(osp.join(data_dir, 'test'), models=specs, out_dir=osp.join(root, 'results', 'demo'),
                             log=log)
    log(result['markdown'])
    floor = next(row for row in result['rows'] if row['name'] == 'input')
    for row in result['rows']:
        if row['name'] != 'input' and row.get('psnr') is not None:
            log(f"[demo] {row['name']}: {row['psnr'] - floor['psnr']:+.2f} dB PSNR over the blurry input")
    for run in runs:
        log(f"[demo] comparison figures (blur | restored | sharp): {osp.join(run, 'visualization', 'comparisons')}")
    command_path = osp.join(osp.dirname(sys.executable), 'basicsr-nafnet')  # .venv/bin/ when demo.sh set it up
    command_name = _shown_path(command_path) if osp.isfile(command_path) else 'basicsr-nafnet'
    for spec in trained:  # the option name and the weights this run wrote
        log(f'[demo] deblur your own photographs with it: {command_name} deblur --model {spec} -i photo.jpg '
            '-o deblurred/')
    return result


def _shown_path(path):
    """``path`` relative to the working directory when inside it, else absolute: what to paste here."""
    relative = osp.relpath(path)
    return relative if not relative.startswith(os.pardir) else osp.abspath(path)


def run_ladder(root='.', iters=None, log=print, ladder=LADDER, command_line=None, budget='cpu-clip', out_dir=None):
    """The ladder (:func:`basicsr_nafnet.ladder.run_ladder`) under ``budget``; ``iters``: a quick look at that many.

    Returns:
        dict: See :func:`basicsr_nafnet.ladder.run_ladder`.
    """
    from . import ladder as ladder_run

    chosen = ladder_run.BUDGETS[budget] if isinstance(budget, str) else budget
    if iters is not None:
        chosen = dataclasses.replace(chosen, name=f'{chosen.name}-{iters}it', iters=iters)
    return ladder_run.run_ladder(root, chosen, out_dir=out_dir, log=log, ladder=ladder, command_line=command_line)


@command(interrupted='stopped; what was finished is kept, run the demo again to continue where it stopped')
def main(argv=None, prog='python -m basicsr_nafnet.demo'):
    parser = ArgumentParser(prog=prog,
                            description='CPU demo: synthetic GoPro-like data, training, evaluation.')
    which = parser.add_mutually_exclusive_group()
    which.add_argument('--all', action='store_true', help='also train the DeblurUNet and ResidualCNN demos')
    which.add_argument('--ladder', action='store_true',
                       help='train ResidualCNN -> UNet (BN) -> UNet (LN) -> Baseline -> NAFNet alike, two seeds '
                       'each, on long camera-shake blur (the shortened ladder) and write '
                       'ladder.md, .json, .png and ladder_curves.png to results/ladder/ under --root')
    parser.add_argument('--root', default='.', help='where datasets/, experiments/ and results/ go (default: .)')
    parser.add_argument('--iters', type=positive_int, default=None,
                        help='a quick look: train this many iterations instead')
    args = parser.parse_args(argv)
    check_output_dir(args.root, '--root')
    if args.ladder:
        command_line = ' '.join(['bash scripts/demo.sh'] + list(sys.argv[1:] if argv is None else argv))
        run_ladder(args.root, args.iters, command_line=command_line)
        return 0
    models = tuple(DEMO_MODELS) if args.all else ('NAFNet', )
    run_demo(args.root, models, args.iters)
    return 0


if __name__ == '__main__':
    sys.exit(main())
