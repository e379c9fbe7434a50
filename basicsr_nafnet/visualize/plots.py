"""Line charts of series it is given, drawn with matplotlib (Agg, no display): training curves, ladder curves.

Two steps, so what is drawn can be checked without looking at pixels: :func:`curve_panels` and
:func:`metric_panel` build the figure data (panels of lines, with the smoothed loss computed here),
:func:`draw_panels` turns it into a matplotlib figure and :func:`save_png` writes it atomically.
Reading logs is :mod:`basicsr_nafnet.evaluation.curves`'s job. matplotlib is imported when a figure is
drawn, not when this package is imported (training processes import ``visualize`` for its strips).
"""
import io
import math

from ..fileio import atomic_write

__all__ = ['smooth', 'smoothing_weight', 'curve_panels', 'metric_panel', 'band_panel', 'draw_panels', 'save_png',
           'tick_labels']

# matplotlib's default colour cycle (tab10), so a run keeps its colour in every panel
COLORS = ('#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f',
          '#bcbd22')


def smoothing_weight(count):
    """The weight :func:`smooth` uses for ``count`` points: ``1 - 10 / count`` within [0, 0.99].

    The exponential average then reaches back about a tenth of the series (its time constant is
    ``1 / (1 - weight)`` points), whatever the logging frequency: 20 logged losses get weight 0.5,
    2000 get 0.99.
    """
    return min(0.99, max(0.0, 1.0 - 10.0 / max(1, count)))


def smooth(values, weight=None):
    """Debiased exponential moving average, the smoothing TensorBoard's slider applies.

    ``m_t = weight * m_(t-1) + (1 - weight) * v_t`` from ``m_0 = 0``, reported as ``m_t / (1 - weight**t)``
    so the first points are not pulled towards zero. Non-finite values are skipped (the average
    carries over them) and come back as they were.

    Args:
        values (sequence of float): The series, in order.
        weight (float | None): In [0, 1); 0 returns the values. None: :func:`smoothing_weight` of the
            number of finite values.

    Returns:
        list[float]: Same length as ``values``.
    """
    finite = sum(1 for v in values if math.isfinite(v))
    weight = smoothing_weight(finite) if weight is None else weight
    if not 0 <= weight < 1:
        raise ValueError(f'smoothing weight must be in [0, 1), got {weight}')
    out, mean, steps = [], 0.0, 0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        steps += 1
        mean = weight * mean + (1 - weight) * v
        out.append(mean / (1 - weight**steps))
    return out


def _finite(xs, ys, positive=False):
    points = [(float(x), float(y)) for x, y in zip(xs, ys) if math.isfinite(y) and (y > 0 or not positive)]
    return [p[0] for p in points], [p[1] for p in points]


def _is_loss(key):
    return key != 'lr' and '/' not in key


def curve_panels(panels):
    """Figure data for training curves: one panel per series key, every run a line in it.

    Loss panels (keys without ``/``, e.g. ``l_pix``) show each run's raw values as a thin faint line
    and its :func:`smooth`-ed values as a solid line of the same colour (a run too short to smooth,
    fewer than 11 points, gets one solid line of its values); validation metrics
    (``<dataset>/<metric>``) are lines with markers; ``lr`` uses a log axis. Panels come in the
    order losses, metrics, learning rate; non-finite (and, on the log axis, non-positive) values are
    left out.

    Args:
        panels (dict[str, dict[str, tuple[list, list]]]): ``key -> run name -> (iterations, values)``.

    Returns:
        list[dict]: ``title``, ``log_y``, ``lines`` (dicts: ``label``, ``xs``, ``ys``, ``color``,
        ``style`` 'raw' | 'smoothed' | 'line' | 'points' | 'reference').
    """
    runs = list(dict.fromkeys(run for by_run in panels.values() for run in by_run))
    color = {run: COLORS[i % len(COLORS)] for i, run in enumerate(runs)}
    figure = []
    for key in sorted(panels, key=lambda k: (k == 'lr', '/' in k, k)):
        log_y = key == 'lr'
        lines = []
        for run, (xs, ys) in panels[key].items():
            xs, ys = _finite(xs, ys, positive=log_y)
            if not xs:
                continue
            weight = smoothing_weight(len(ys))
            if _is_loss(key) and weight > 0:
                lines.append(dict(label=f'{run} (raw)', xs=xs, ys=ys, color=color[run], style='raw'))
                lines.append(dict(label=f'{run} (smoothed, EMA {weight:.2f})', xs=xs, ys=smooth(ys, weight),
                                  color=color[run], style='smoothed'))
            else:  # a metric, the learning rate, or a loss too short to smooth
                style = 'points' if '/' in key else 'line'
                lines.append(dict(label=run, xs=xs, ys=ys, color=color[run], style=style))
        title = 'learning rate' if log_y else key
        figure.append(dict(title=title, log_y=log_y, lines=lines))
    return figure


def metric_panel(series, title, reference=None):
    """One panel of a validation metric for several runs, with an optional horizontal reference line.

    Args:
        series (dict[str, tuple[list, list]]): ``run label -> (iterations, values)``, in legend order.
        title (str): The panel's title (also the y label).
        reference (tuple[str, float] | None): ``(label, value)`` drawn dashed across the panel,
            e.g. the blurred input's PSNR.

    Returns:
        dict: A panel as :func:`curve_panels` makes them.
    """
    lines = []
    for i, (label, (xs, ys)) in enumerate(series.items()):
        xs, ys = _finite(xs, ys)
        if xs:
            lines.append(dict(label=label, xs=xs, ys=ys, color=COLORS[i % len(COLORS)], style='points'))
    if reference is not None and lines:
        lo = min(min(line['xs']) for line in lines)
        hi = max(max(line['xs']) for line in lines)
        lines.append(dict(label=reference[0], xs=[lo, hi], ys=[reference[1]] * 2, color='#555555', style='reference'))
    return dict(title=title, log_y=False, lines=lines)


def band_panel(series, title, reference=None):
    """One panel of a metric over repeated runs (seeds): per label the mean as a line, the range as a band.

    Args:
        series (dict[str, tuple[list, list, list, list]]): ``label -> (iterations, mean, low, high)``.
        title (str): The panel's title (also the y label).
        reference (tuple[str, float] | None): As for :func:`metric_panel`.

    Returns:
        dict: A panel as :func:`curve_panels` makes them (``band`` lines carry ``low`` and ``high``).
    """
    lines = []
    for i, (label, (xs, mean, low, high)) in enumerate(series.items()):
        if xs:
            color = COLORS[i % len(COLORS)]
            lines.append(dict(label=f'{label}: seed range', xs=list(xs), ys=list(mean), low=list(low), high=list(high),
                              color=color, style='band'))
            lines.append(dict(label=label, xs=list(xs), ys=list(mean), color=color, style='points'))
    if reference is not None and lines:
        lo = min(min(line['xs']) for line in lines)
        hi = max(max(line['xs']) for line in lines)
        lines.append(dict(label=reference[0], xs=[lo, hi], ys=[reference[1]] * 2, color='#555555', style='reference'))
    return dict(title=title, log_y=False, lines=lines)


_STYLES = {
    'band': dict(alpha=0.2, linewidth=0),
    'raw': dict(linewidth=0.8, alpha=0.35),
    'smoothed': dict(linewidth=1.8),
    'line': dict(linewidth=1.5),
    'points': dict(linewidth=1.5, marker='o', markersize=3),
    'reference': dict(linewidth=1.2, linestyle='--'),
}


def draw_panels(panels, width=900, panel_height=280, dpi=100, x_label='iteration'):
    """Draw panels stacked vertically on a matplotlib figure of ``width`` x ``len(panels) * panel_height`` pixels.

    Tick labels are plain numbers without an offset, with as many decimals as the ticks need to be
    written exactly (:func:`tick_labels`), so neighbouring ticks never read the same (0.9775, 0.9780, ...
    rather than 0.978, 0.978).

    Returns:
        matplotlib.figure.Figure: Drawn (its canvas rendered), ready for :func:`save_png`.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import Formatter, MaxNLocator

    class SpacingFormatter(Formatter):
        """Every tick label from :func:`tick_labels` of all the axis's ticks together."""

        def format_ticks(self, values):
            return tick_labels(values)

        def __call__(self, value, pos=None):
            return f'{value:g}'

    fig = Figure(figsize=(width / dpi, max(1, len(panels)) * panel_height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)  # Agg: renders to memory, needs no display
    axes = fig.subplots(max(1, len(panels)), 1, squeeze=False)[:, 0]
    for ax, panel in zip(axes, panels or [dict(title='no data', log_y=False, lines=[])]):
        for line in panel['lines']:
            if line['style'] == 'band':
                ax.fill_between(line['xs'], line['low'], line['high'], color=line['color'], **_STYLES['band'])
                continue
            ax.plot(line['xs'], line['ys'], color=line['color'], label=line['label'], **_STYLES[line['style']])
        ax.set_title(panel['title'], fontsize=10, loc='left')
        ax.set_xlabel(x_label, fontsize=8)
        ax.grid(True, color='#dddddd', linewidth=0.6)
        ax.tick_params(labelsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
        if panel['log_y']:
            ax.set_yscale('log')
        else:
            ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
            ax.yaxis.set_major_formatter(SpacingFormatter())
        if not panel['lines']:
            ax.text(0.5, 0.5, 'no data', ha='center', va='center', transform=ax.transAxes, color='#777777')
        else:
            ax.legend(fontsize=7, loc='best', framealpha=0.8)
    fig.tight_layout()
    fig.canvas.draw()
    return fig


def tick_labels(ticks):
    """Labels for ``ticks`` with the fewest decimals that write every tick exactly (so no two read the same).

    ``[0.9775, 0.978, 0.9785]`` -> ``['0.9775', '0.9780', '0.9785']``; ``[19.5, 21, 22.5]`` -> ``['19.5', '21.0',
    '22.5']``; ``[26, 28, 30]`` -> ``['26', '28', '30']``.
    """
    ticks = [float(t) for t in ticks]
    if not ticks:
        return []
    steps = [abs(b - a) for a, b in zip(ticks, ticks[1:]) if b != a]
    tolerance = (min(steps) if steps else max(1.0, abs(ticks[0]))) * 1e-6  # float noise of the locator
    decimals = next((d for d in range(12) if all(abs(round(t, d) - t) <= tolerance for t in ticks)), 12)
    labels = [f'{t:.{decimals}f}' for t in ticks]
    return ['0' if float(label) == 0 else label for label in labels]  # no '-0.00'


def save_png(fig, path):
    """Write a drawn figure as PNG through a temporary file renamed into place; returns ``path``."""
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=fig.dpi)
    return atomic_write(path, buf.getvalue())
