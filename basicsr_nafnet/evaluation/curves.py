"""Training curves (loss, validation metrics, learning rate) read from BasicSR logs or tensorboard events.

BasicSR writes ``experiments/<name>/train_<name>_<time>.log`` with lines such as::

    [NAFNe..][epoch:  0, iter:     200, lr:(1.000e-03,)] [eta: ..., time (data): ...] l_pix: -2.1e+01
    Validation GoPro
    	 # psnr: 28.1234	Best: 28.1234 @ 200 iter

A validation block carries no iteration of its own; it belongs to the last training line before it
(BasicSR validates right after logging when ``val_freq`` is a multiple of ``print_freq``).
"""
import datetime
import glob
import os
import re
from collections import defaultdict

from ..errors import UserError
from ..visualize.plots import curve_panels, draw_panels, save_png

__all__ = ['read_train_log', 'read_tensorboard', 'read_experiment', 'training_seconds', 'plot_curves']

_TRAIN = re.compile(r'\[epoch:\s*\d+, iter:\s*([\d,]+), lr:\(([^)]*)\)\]')
_LOSS = re.compile(r'\b(l_[\w]+|loss[\w]*): ([-+\d.eE]+|nan|inf)')
_VALID = re.compile(r'Validation (\S+)')
_METRIC = re.compile(r'# (\w+): ([-+\d.eE]+|nan|inf)')
_STAMP = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ')


def read_train_log(path):
    """Parse one BasicSR training log.

    Returns:
        dict[str, tuple[list, list]]: ``series name -> (iterations, values)``; names are the loss
        keys (``l_pix``), ``lr``, and ``<dataset>/<metric>`` for validation.
    """
    series = defaultdict(lambda: ([], []))
    last_iter, dataset = None, None
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            m = _TRAIN.search(line)
            if m:
                last_iter = int(m.group(1).replace(',', ''))
                dataset = None
                lrs = [v for v in m.group(2).split(',') if v.strip()]
                if lrs:
                    _append(series['lr'], last_iter, float(lrs[0]))
                for name, value in _LOSS.findall(line[m.end():]):
                    _append(series[name], last_iter, float(value))
                continue
            m = _VALID.search(line)
            if m:
                dataset = m.group(1).rstrip(',')
            if dataset is not None and last_iter is not None:
                for name, value in _METRIC.findall(line):
                    _append(series[f'{dataset}/{name}'], last_iter, float(value))
    return dict(series)


def _append(xy, x, y):
    xy[0].append(x)
    xy[1].append(y)


def read_tensorboard(folder):
    """Scalars of the tensorboard event files under ``folder`` (needs the ``tensorboard`` package).

    Returns:
        dict[str, tuple[list, list]]: ``tag -> (steps, values)``, with BasicSR's ``losses/`` and
        ``metrics/`` prefixes removed.
    """
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise UserError(f'{folder}: reading tensorboard events needs the tensorboard package '
                        '(pip install tensorboard), or point at the experiment\'s train_*.log') from None
    acc = EventAccumulator(folder, size_guidance={'scalars': 0})
    acc.Reload()
    series = {}
    for tag in acc.Tags().get('scalars', []):
        events = acc.Scalars(tag)
        name = re.sub(r'^(losses|metrics)/', '', tag)
        series[name] = ([e.step for e in events], [e.value for e in events])
    return series


def read_experiment(path):
    """Series of one experiment: a ``train_*.log`` file, an experiment folder, or a tensorboard folder.

    In an experiment folder the newest ``train_*.log`` is read (BasicSR starts a new log on every
    resume; all of them are merged, later values winning). Without a log, event files are read.
    """
    if os.path.isfile(path):
        if os.path.basename(path).startswith('events.out.tfevents'):
            return read_tensorboard(os.path.dirname(path))
        return read_train_log(path)
    if not os.path.isdir(path):
        raise UserError(f'{path}: no such log file or experiment folder')
    logs = sorted(glob.glob(os.path.join(path, 'train_*.log')), key=os.path.getmtime)
    if logs:
        merged = {}
        for log in logs:
            for name, (xs, ys) in read_train_log(log).items():
                points = dict(zip(*merged.get(name, ([], []))))
                points.update(zip(xs, ys))
                merged[name] = (sorted(points), [points[x] for x in sorted(points)])
        return merged
    if glob.glob(os.path.join(path, '**', 'events.out.tfevents*'), recursive=True):
        events = glob.glob(os.path.join(path, '**', 'events.out.tfevents*'), recursive=True)
        return read_tensorboard(os.path.dirname(sorted(events, key=os.path.getmtime)[-1]))
    raise UserError(f'{path}: no train_*.log and no tensorboard events inside')


def _log_span(path):
    """Seconds between the first and the last time-stamped line of one log (0 with fewer than two)."""
    first = last = None
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            m = _STAMP.match(line)
            if m:
                stamp = datetime.datetime.strptime(m.group(1), '%Y-%m-%d %H:%M:%S').timestamp() + int(m.group(2)) / 1e3
                first = stamp if first is None else first
                last = stamp
    return 0.0 if first is None else last - first


def training_seconds(folder):
    """Wall time of a BasicSR training run as its logs tell it: the sum over its ``train_*.log`` files.

    Each session (the first and every resume) writes its own log, from option parsing to the last
    validation; summing their spans counts set-up, iterations and validations, and not the time the
    run stood interrupted.

    Args:
        folder (str): The experiment folder (``experiments/<name>``).

    Returns:
        float: Seconds.
    """
    logs = glob.glob(os.path.join(folder, 'train_*.log'))
    if not logs:
        raise UserError(f'{folder}: no train_*.log to read the training time from')
    return sum(_log_span(log) for log in logs)


def _experiment_name(path):
    path = os.path.normpath(path)
    if os.path.isfile(path):
        stem = os.path.basename(path)
        m = re.match(r'train_(.+)_\d{8}_\d{6}\.log$', stem)
        return m.group(1) if m else os.path.basename(os.path.dirname(path)) or stem
    return os.path.basename(path)


def plot_curves(experiments, out_path, width=900, panel_height=280):
    """Draw loss, validation metrics and learning rate against iteration for several experiments.

    Args:
        experiments (list[str]): Log files, experiment folders, or tensorboard folders.
        out_path (str): The PNG to write (atomically).
        width (int): Figure width in pixels. panel_height (int): Height of each panel in pixels.

    Returns:
        tuple[str, list[dict]]: The path and the figure data (see
        :func:`~basicsr_nafnet.visualize.plots.curve_panels`): one panel per loss (raw and smoothed),
        one per validation metric, and one for the learning rate (log scale), stacked vertically.
    """
    if not experiments:
        raise UserError('plot_curves needs at least one experiment')
    panels = defaultdict(dict)
    for path in experiments:
        name = _experiment_name(path)
        series = read_experiment(path)
        if not series:
            raise UserError(f'{path}: found no training or validation values to plot')
        for key, xy in series.items():
            panels[key][name] = xy
    figure = curve_panels(panels)
    return save_png(draw_panels(figure, width, panel_height), out_path), figure
