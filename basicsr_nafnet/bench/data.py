"""Measuring the data pipeline: conversion throughput, the two-pass route it replaces, and read speed.

* **ours**: :func:`basicsr_nafnet.data.prepare.prepare_gopro` on synthetic GoPro-size pairs, with 1 and 2 workers.
* **two-pass**: what users run today: write every crop as a PNG file (a process pool, PNG level 3
  as BasicSR's ``extract_subimages`` does), then pack each folder with
  ``basicsr.utils.lmdb_util.make_lmdb_from_imgs`` (its defaults).
* **reads**: random crops read per second through BasicSR's ``FileClient``: from our LMDB, and
  from the two-pass route's PNG files on the disk backend (page cache warm for both).

Each conversion runs in a fresh Python process so its peak memory (``ru_maxrss``) is its own.
"""
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from multiprocessing import Pool

import cv2

__all__ = ['run_benchmark', 'format_report']


def _peak_mib():
    """Peak resident memory in MiB of this process and of its largest finished child.

    This process: ``VmHWM`` where ``/proc`` has it (``ru_maxrss`` carries the parent's peak across
    ``exec`` on Linux). Children: ``ru_maxrss``, which counts pages shared with this process too, so
    main + workers x child is an upper bound of the total.
    """
    scale = 1 / 1024 if sys.platform != 'darwin' else 1 / 2**20
    main = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    try:
        with open('/proc/self/status') as f:
            main = next(int(line.split()[1]) for line in f if line.startswith('VmHWM:')) / 1024
    except (OSError, StopIteration):
        pass
    return main, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale


# --------------------------------------------------------------------------- the two-pass reference route
def _write_crops(job):
    """Read one image and write its crops as PNG files (the first pass of the two-pass route)."""
    src, out_folder, key, crop_size, step = job
    from ..data.prepare import crop_positions
    img = cv2.imread(src, cv2.IMREAD_UNCHANGED)
    index, names = 0, []
    for y in crop_positions(img.shape[0], crop_size, step):
        for x in crop_positions(img.shape[1], crop_size, step):
            index += 1
            name = f'{key}_s{index:03d}.png'
            cv2.imwrite(os.path.join(out_folder, name), img[y:y + crop_size, x:x + crop_size],
                        [cv2.IMWRITE_PNG_COMPRESSION, 3])
            names.append(name)
    return names


def two_pass_route(dataset, workdir, crop_size, step, workers):
    """PNG crops on disk, then ``make_lmdb_from_imgs`` per side. Returns the crop folders and LMDBs."""
    from basicsr.utils.lmdb_util import make_lmdb_from_imgs

    from ..data.layout import find_pairs
    _, pairs = find_pairs(dataset, 'train')
    outputs = {}
    with Pool(workers) as pool:
        for side in ('blur', 'sharp'):
            folder = os.path.join(workdir, f'{side}_crops')
            os.makedirs(folder)
            jobs = [(os.path.join(dataset, getattr(p, side)), folder, p.key, crop_size, step) for p in pairs]
            names = sorted(n for batch in pool.imap(_write_crops, jobs) for n in batch)
            outputs[side] = (folder, names)
    lmdbs = {}
    for side, (folder, names) in outputs.items():
        lmdbs[side] = os.path.join(workdir, f'{side}_crops.lmdb')
        make_lmdb_from_imgs(folder, lmdbs[side], names, [os.path.splitext(n)[0] for n in names])
    return {side: folder for side, (folder, _) in outputs.items()}, lmdbs


def _timed_route(route, dataset, workdir, crop_size, step, workers):
    """Run one route; its wall-clock seconds."""
    from ..data.prepare import prepare_gopro
    start = time.perf_counter()
    if route == 'ours':
        prepare_gopro(dataset, workdir, crop_size=crop_size, step=step, workers=workers, splits=['train'],
                      progress=False)
    else:
        two_pass_route(dataset, workdir, crop_size, step, workers)
    return time.perf_counter() - start


def _route_main(route, dataset, workdir, crop_size, step, workers):
    """Entry point of the child process: run one route and print its time and peak memory as JSON."""
    import basicsr_nafnet  # noqa: F401  (shims before basicsr)
    seconds = _timed_route(route, dataset, workdir, crop_size, step, workers)
    main_mib, child_mib = _peak_mib()
    print(json.dumps(dict(seconds=seconds, main_peak_mib=main_mib, worker_peak_mib=child_mib)))


def _run_route(route, dataset, workdir, crop_size, step, workers, isolate=True):
    """Time one route, in a fresh interpreter when ``isolate`` (needed for its own peak memory)."""
    if not isolate:
        seconds = _timed_route(route, dataset, workdir, crop_size, step, workers)
        return dict(seconds=seconds, main_peak_mib=None, worker_peak_mib=None)
    code = ('import sys, json; from basicsr_nafnet.bench.data import _route_main; '
            '_route_main(*json.loads(sys.argv[1]))')
    args = json.dumps([route, dataset, workdir, crop_size, step, workers])
    done = subprocess.run([sys.executable, '-c', code, args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f'{route} route failed:\n{done.stderr[-3000:]}')
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- reads
def _random_reads(backend, items, reads, gt_size, seed):
    """Random crops of ``gt_size`` per second: fetch bytes through BasicSR's FileClient, decode, crop."""
    from basicsr.utils import FileClient, imfrombytes
    client = FileClient(**backend)
    rng = random.Random(seed)
    start = time.perf_counter()
    for _ in range(reads):
        img = imfrombytes(client.get(rng.choice(items), 'gt') if backend['backend'] == 'lmdb'
                          else client.get(rng.choice(items)), float32=True)
        y, x = rng.randint(0, img.shape[0] - gt_size), rng.randint(0, img.shape[1] - gt_size)
        img[y:y + gt_size, x:x + gt_size].copy()
    return reads / (time.perf_counter() - start)


def run_benchmark(workdir, pairs=16, size=(720, 1280), crop_size=512, step=256, reads=400, gt_size=256,
                  seed=0, keep=False, progress=True, isolate=True):
    """Run every measurement on synthetic GoPro-size data in ``workdir``; return the numbers.

    Args:
        workdir (str): Scratch folder (created; removed afterwards unless ``keep``).
        pairs (int): Synthetic training pairs.
        size (tuple[int, int]): ``(H, W)`` of the pairs (GoPro: 720 x 1280).
        crop_size (int): Crop side. step (int): Crop step.
        reads (int): Random reads per backend.
        gt_size (int): Side of the random crops read.
        seed (int): Seed of the synthetic data and of the read order.
        keep (bool): Keep ``workdir``.
        progress (bool): Show progress.
        isolate (bool): Run each conversion in a fresh interpreter (seconds of imports each, outside the
            timing) so its peak memory is measured; without it the memory fields are ``None``.

    Returns:
        dict: ``source_megapixels``, ``ours`` (per worker count), ``two_pass``, ``reads_per_s``.
    """
    from ..data.lmdb_writer import read_meta_info
    from ..data.synthetic import make_synthetic_gopro
    workdir = os.path.abspath(workdir)
    gt_size = min(gt_size, crop_size)
    os.makedirs(workdir, exist_ok=True)
    dataset = os.path.join(workdir, 'gopro')
    try:
        make_synthetic_gopro(dataset, train=pairs, test=0, size=size, seed=seed, progress=progress, overwrite=True)
        results = dict(pairs=pairs, size=list(size), crop_size=crop_size, step=step, cpus=os.cpu_count(),
                       gt_size=gt_size,
                       source_megapixels=2 * pairs * size[0] * size[1] / 1e6, ours={})
        for workers in (1, 2):
            out = os.path.join(workdir, f'ours_{workers}')
            results['ours'][workers] = _run_route('ours', dataset, out, crop_size, step, workers, isolate)
        two_pass_dir = os.path.join(workdir, 'two_pass')
        shutil.rmtree(two_pass_dir, ignore_errors=True)
        results['two_pass'] = _run_route('two_pass', dataset, two_pass_dir, crop_size, step, 2, isolate)
        for entry in list(results['ours'].values()) + [results['two_pass']]:
            entry['megapixels_per_s'] = results['source_megapixels'] / entry['seconds']
        ours_lmdb = os.path.join(workdir, 'ours_2', 'train', 'sharp_crops.lmdb')
        keys = [k for k, _, _ in read_meta_info(ours_lmdb)]
        png_folder = os.path.join(two_pass_dir, 'sharp_crops')
        results['reads_per_s'] = {
            'lmdb': _random_reads(dict(backend='lmdb', db_paths=[ours_lmdb], client_keys=['gt']), keys, reads, gt_size,
                                  seed),
            'png_disk': _random_reads(dict(backend='disk'), [os.path.join(png_folder, k + '.png') for k in keys], reads,
                                      gt_size, seed),
        }
        results['crops'] = len(keys)
        return results
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def format_report(r):
    """The numbers of :func:`run_benchmark` as a Markdown table."""
    ours1, ours2, two = r['ours'][1], r['ours'][2], r['two_pass']
    lines = [
        f"{r['pairs']} synthetic pairs of {r['size'][1]}x{r['size'][0]} -> {r['crops']} crops of {r['crop_size']} "
        f"(step {r['step']}) per side; {r['source_megapixels']:.1f} source megapixels; {r['cpus']} CPUs",
        '',
        '| route | seconds | MP/s | main peak MiB | largest worker peak MiB |',
        '| --- | --- | --- | --- | --- |',
    ]
    routes = (('ours, 1 worker', ours1), ('ours, 2 workers', ours2),
              ('two-pass (PNG crops + make_lmdb), 2 workers', two))
    for name, e in routes:
        memory = [f'{v:.0f}' if v is not None else 'n/a' for v in (e['main_peak_mib'], e['worker_peak_mib'])]
        lines.append(f"| {name} | {e['seconds']:.2f} | {e['megapixels_per_s']:.1f} | {memory[0]} | {memory[1]} |")
    lines += ['', f"speed-up of ours (2 workers) over two-pass: {two['seconds'] / ours2['seconds']:.2f}x; "
              f"2 workers over 1: {ours1['seconds'] / ours2['seconds']:.2f}x", '',
              f"random {r['gt_size']}px crop reads/s: LMDB "
              f"{r['reads_per_s']['lmdb']:.0f}, PNG files (disk backend) {r['reads_per_s']['png_disk']:.0f}"]
    return '\n'.join(lines)
