"""Converting a GoPro-style dataset to BasicSR LMDBs in one pass.

:func:`prepare_gopro` finds the pairs (:mod:`.layout`), checks every source image from its PNG
header before writing anything, then streams the pairs through worker processes that read, decode,
crop and PNG-encode them; the main process is the only writer. No intermediate crop files touch
the disk and each source image is read once.

Outputs, named as the official NAFNet option files expect::

    <output>/train/blur_crops.lmdb   <output>/train/sharp_crops.lmdb   (crop_size crops at step)
    <output>/test/input.lmdb         <output>/test/target.lmdb         (full images)
"""
import collections
import json
import multiprocessing
import os
import signal
import time

from tqdm import tqdm

from ..errors import UserError
from ..fileio import atomic_write
from ..locks import LOCK_NAME, output_lock
from .layout import find_pairs, find_splits
from .lmdb_writer import LmdbWriter, OutputExistsError, lmdb_map_size
from .png import decode_rgb8, encode_png, header_problem, png_header
from .source import open_source
from .verify import check_lmdb_files, verify_lmdb_pair

__all__ = ['prepare_gopro', 'crop_positions', 'output_paths', 'DatasetError', 'OutputExistsError', 'OUTPUT_NAMES']

# per split: (blurred LMDB, sharp LMDB), the names the official NAFNet GoPro option files use
OUTPUT_NAMES = {'train': ('blur_crops.lmdb', 'sharp_crops.lmdb'), 'test': ('input.lmdb', 'target.lmdb')}
# in the output root while a conversion runs: its settings and finished splits, so that the same command after a
# kill or Ctrl-C keeps the finished splits and converts the rest; removed when every split is done
MARKER = '.prepare_gopro.json'


class DatasetError(UserError):
    """Source images that cannot be converted; the message lists every offending file."""


def crop_positions(length, crop_size, step):
    """Start offsets of crops of ``crop_size`` every ``step`` along ``length``, the edge crop included.

    Example: 720 with 512 at step 256 gives ``[0, 208]``; 1280 gives ``[0, 256, 512, 768]``.
    """
    if crop_size > length:
        raise UserError(f'crop size {crop_size} is larger than the image side {length}')
    if step <= 0:
        raise UserError(f'step must be positive, got {step}')
    starts = list(range(0, length - crop_size + 1, step))
    if starts[-1] != length - crop_size:
        starts.append(length - crop_size)
    return starts


def output_paths(output, splits):
    """``{split: {'lq': blurred LMDB, 'gt': sharp LMDB}}`` under ``output``."""
    return {s: {'lq': os.path.join(output, s, OUTPUT_NAMES[s][0]), 'gt': os.path.join(output, s, OUTPUT_NAMES[s][1])}
            for s in splits}


def _default_output(source):
    if not source.is_zip:
        return source.root
    return os.path.splitext(source.root)[0]  # GOPRO_Large.zip -> GOPRO_Large/ beside it


def _check_images(source, split, pairs, crop_size, progress=True):
    """Header-check every image of a split; return each pair's ``(h, w)``. Lists every problem."""
    problems, sizes = [], []
    for pair in tqdm(pairs, desc=f'check {split}', unit='pair', leave=False, disable=not progress or len(pairs) < 200):
        headers = {}
        for path in (pair.blur, pair.sharp):
            header = png_header(*source.read_head_tail(path))
            problem = header_problem(header)
            if problem:
                problems.append(f'{path}: {problem}')
            headers[path] = header
        hb, hs = headers[pair.blur], headers[pair.sharp]
        if hb is None or hs is None:
            sizes.append(None)
            continue
        if (hb.height, hb.width) != (hs.height, hs.width):
            problems.append(f'{pair.blur} is {hb.width}x{hb.height} but {pair.sharp} is {hs.width}x{hs.height}')
        elif crop_size and min(hb.height, hb.width) < crop_size:
            problems.append(f'{pair.blur}: {hb.width}x{hb.height} is smaller than the crop size {crop_size}')
        sizes.append((hb.height, hb.width))
    return problems, sizes


# --------------------------------------------------------------------------- worker side
_WORKER = {}


def _init_worker(source, crop_size, step, compress_level):
    # No cv2.setNumThreads here: in a forked child it waits for the parent's OpenCV pool threads,
    # which do not exist there, and hangs. PNG coding is single-threaded in OpenCV anyway.
    _WORKER.update(source=source, crop_size=crop_size, step=step, compress_level=compress_level)


def _init_pool_worker(*init_args):
    # Ctrl-C reaches every process of the terminal's group; only the parent acts on it (it stops the pool
    # and removes the unfinished LMDBs), so the workers print no traceback of their own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _init_worker(*init_args)


def _convert_pair(split, pair):
    """Read, decode, crop (train) and encode one pair: ``[(key, blur_png, sharp_png, (h, w, c))]``."""
    source, level = _WORKER['source'], _WORKER['compress_level']
    where = f'{source.root}:' if source.is_zip else source.root + os.sep
    blur = decode_rgb8(source.read(pair.blur), where + pair.blur)
    sharp = decode_rgb8(source.read(pair.sharp), where + pair.sharp)
    if blur.shape != sharp.shape:
        raise DatasetError(f'{pair.blur} {blur.shape} and {pair.sharp} {sharp.shape} differ in size')
    crop = _WORKER['crop_size'] if split == 'train' else None
    if not crop:
        return [(pair.key, encode_png(blur, level), encode_png(sharp, level), blur.shape)]
    records, index = [], 0
    for y in crop_positions(blur.shape[0], crop, _WORKER['step']):
        for x in crop_positions(blur.shape[1], crop, _WORKER['step']):
            index += 1
            window = (slice(y, y + crop), slice(x, x + crop))
            records.append((f'{pair.key}_s{index:03d}', encode_png(blur[window], level),
                            encode_png(sharp[window], level), (crop, crop, blur.shape[2])))
    return records


def _task(args):
    return _convert_pair(*args)


def _results(tasks, workers, init_args):
    """Yield ``_convert_pair`` results in task order, with at most ``2 * workers`` tasks in flight
    so memory stays bounded when the writer is slower than the workers."""
    if workers <= 0:
        _init_worker(*init_args)
        for task in tasks:
            yield _task(task)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context('fork' if 'fork' in methods else None)  # fork: no re-import of torch
    with context.Pool(workers, initializer=_init_pool_worker, initargs=init_args) as pool:
        in_flight = collections.deque()
        for task in tasks:
            in_flight.append(pool.apply_async(_task, (task,)))
            if len(in_flight) >= 2 * workers:
                yield in_flight.popleft().get()
        while in_flight:
            yield in_flight.popleft().get()


def _crop_count(size, crop_size, step):
    h, w = size
    return len(crop_positions(h, crop_size, step)) * len(crop_positions(w, crop_size, step))


def _convert_split(source, split, planned, paths, crop_size, step, workers, compress_level, progress, overwrite):
    """Write one split's LMDB pair (each into ``.partial``, renamed into place when complete)."""
    layout, pairs, sizes = planned
    crop = crop_size if split == 'train' else None
    shapes = ([(crop, crop, 3)] * sum(_crop_count(s, crop, step) for s in sizes) if crop
              else [(h, w, 3) for h, w in sizes])
    map_size = lmdb_map_size(shapes)
    os.makedirs(os.path.dirname(paths['lq']), exist_ok=True)
    start, megapixels = time.time(), 0.0
    with LmdbWriter(paths['lq'], map_size, compress_level, overwrite) as lq, \
            LmdbWriter(paths['gt'], map_size, compress_level, overwrite) as gt:
        bar = tqdm(total=2 * len(pairs), unit='img', desc=f'{split} ({layout})', disable=not progress)
        results = _results(((split, pair) for pair in pairs), workers, (source, crop_size, step, compress_level))
        try:
            for (h, w), records in zip(sizes, results):
                for key, blur_png, sharp_png, shape in records:
                    lq.put(key, blur_png, shape)
                    gt.put(key, sharp_png, shape)
                megapixels += 2 * h * w / 1e6
                bar.update(2)
        finally:
            results.close()  # stops the worker pool at once if writing failed
            bar.close()
        gt.finish()  # the sharp side first: a blurred LMDB in place implies its partner is complete
        lq.finish()
    if progress:
        seconds = time.time() - start
        tqdm.write(f'{split}: {layout} layout, {len(pairs)} pairs -> {len(shapes)} records per side in '
                   f'{seconds:.1f} s ({megapixels / max(seconds, 1e-9):.1f} MP/s) -> {paths["lq"]}, {paths["gt"]}')


def _interrupted_run(output):
    """What the marker of a conversion into ``output`` that never finished says (a dict), or None."""
    try:
        with open(os.path.join(output, MARKER), encoding='utf-8') as f:
            marker = json.load(f)
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def _splits_to_write(output, paths, splits, settings, overwrite):
    """The splits to (re)write: all with ``overwrite``; else those an interrupted run with these settings did not
    finish, and those with no output yet. Touches nothing.

    Raises:
        OutputExistsError: an output of a split no interrupted run of these settings left behind.
    """
    if overwrite:
        return list(splits)
    marker = _interrupted_run(output)
    resumable = marker is not None and all(marker.get(k) == v for k, v in settings.items())
    ours = set(marker.get('splits', ())) if resumable else set()
    finished = [s for s in splits if resumable and s in marker.get('done', ()) and
                all(os.path.isdir(p) and check_lmdb_files(p) is None for p in paths[s].values())]
    existing = [p for s in splits if s not in ours for p in paths[s].values() if os.path.exists(p)]
    if existing:
        done = [s for s in splits if all(os.path.exists(p) for p in paths[s].values())]
        rest = [s for s in splits if not any(os.path.exists(p) for p in paths[s].values())]
        hint = (f"; {', '.join(done)} is already converted: to convert the rest, run again with "
                f"--splits {' '.join(rest)}" if done and rest else '')
        if marker is not None and not resumable:
            hint += ('; an interrupted conversion with other settings left them: run it again as it was, or pass '
                     '--overwrite')
        raise OutputExistsError('output exists, pass --overwrite (overwrite=True) to replace: ' + ', '.join(existing) +
                                hint)
    return [s for s in splits if s not in finished]


def prepare_gopro(input, output=None, crop_size=512, step=256, workers=None, overwrite=False, verify=False,
                  blur_dir='blur', splits=None, compress_level=1, progress=True):
    """Convert a GoPro-style dataset (folder or zip) to BasicSR LMDBs.

    Args:
        input (str): Dataset folder or ``.zip`` in any layout :func:`.layout.find_pairs` knows.
        output (str | None): Output root; default the input folder (for a zip, a folder beside it
            named after it).
        crop_size (int | None): Side of the square training crops; ``None`` or 0 stores full images.
        step (int): Distance between crops; the crop touching the far edge is always included.
        workers (int | None): Worker processes; default all cores; 0 converts in this process.
        overwrite (bool): Replace existing output LMDBs. Without it, the outputs of a conversion that was
            interrupted (killed, Ctrl-C) with the same settings are no obstacle: its finished splits are kept
            and the rest converted, so the same command finishes the job.
        verify (bool): Decode every record afterwards and compare keys and shapes of both sides.
        blur_dir (str): ``'blur'`` or ``'blur_gamma'`` for the ``GOPRO_Large`` layout.
        splits (list[str] | None): Splits to convert; default every split the dataset has.
        compress_level (int): PNG compression level of the stored values (BasicSR's default is 1).
        progress (bool): Show progress bars and a summary.

    Returns:
        dict: ``{split: {'lq': blurred LMDB path, 'gt': sharp LMDB path}}`` for the splits written.

    Raises:
        DatasetError: unusable source images, all listed; nothing is written.
        OutputExistsError: an output exists (not left by an interrupted run with these settings) and
            ``overwrite`` is False; nothing is written.
        OutputBusy: another process is converting into ``output``.
        LayoutError: unknown layout or unpaired files; nothing is written.
    """
    source = open_source(input)
    output = os.fspath(output) if output is not None else _default_output(source)
    workers = os.cpu_count() if workers is None else workers
    splits = list(splits) if splits is not None else find_splits(source, blur_dir)
    if not splits:
        find_pairs(source, 'test', blur_dir)  # raises the unknown-layout error with what was found
    if (crop_size is not None and crop_size < 0) or step <= 0 or workers < 0 or not 0 <= compress_level <= 9:
        raise UserError(f'crop_size >= 0, step > 0, workers >= 0 and compress_level 0-9 are needed, got '
                        f'{crop_size}, {step}, {workers}, {compress_level}')
    if os.path.exists(output) and not os.path.isdir(output):
        raise UserError(f'--output {output}: exists and is not a folder')
    crop_size = crop_size or None

    # every check before anything is written
    plan, problems = {}, []
    for split in splits:
        layout, pairs = find_pairs(source, split, blur_dir)
        if not pairs:
            raise DatasetError(f'{source.root}: no {split} pairs')
        split_problems, sizes = _check_images(source, split, pairs, crop_size if split == 'train' else None,
                                              progress)
        problems += split_problems
        plan[split] = (layout, pairs, sizes)
    if problems:
        raise DatasetError(f'{source.root}: {len(problems)} problem(s) with the source images:\n  '
                           + '\n  '.join(problems))
    paths = output_paths(output, splits)
    settings = dict(input=os.path.realpath(source.root), blur_dir=blur_dir, crop_size=crop_size, step=step,
                    compress_level=compress_level)
    _splits_to_write(output, paths, splits, settings, overwrite)  # refuses before anything is created
    os.makedirs(output, exist_ok=True)
    announce = tqdm.write if progress else None
    with output_lock(os.path.join(output, LOCK_NAME), output, announce=announce):
        todo = _splits_to_write(output, paths, splits, settings, overwrite)  # again: another run may have finished
        done = [s for s in splits if s not in todo]
        if announce and done:
            announce(f"resuming an interrupted conversion: {', '.join(done)} kept, converting {', '.join(todo)}")
        marker = os.path.join(output, MARKER)
        atomic_write(marker, json.dumps(dict(settings, splits=splits, done=done), sort_keys=True))
        for split in todo:  # under the lock, a split to write has no output, or one we may replace
            _convert_split(source, split, plan[split], paths[split], crop_size, step, workers, compress_level,
                           progress, overwrite=True)
            done.append(split)
            atomic_write(marker, json.dumps(dict(settings, splits=splits, done=done), sort_keys=True))
        os.remove(marker)
    if verify:
        for split in splits:
            count = verify_lmdb_pair(paths[split]['lq'], paths[split]['gt'], progress=progress)
            if progress:
                tqdm.write(f'{split}: verified {count} records on each side')
    return paths
