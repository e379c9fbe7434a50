"""Scoring one network variant over a test set, image by image, resumably.

Per image: the forward pass is timed (device synchronised), the output rounded to uint8 as
BasicSR's ``tensor2img`` does, then scored with BasicSR's ``calculate_psnr`` and the 3-D SSIM
(optionally BasicSR's per-channel 2-D SSIM too). Results are appended to a JSON-lines cache as
they come, so an interrupted run of 1111 images continues where it stopped.
"""
import json
import os
import statistics
import time

import numpy as np
import torch
from basicsr.metrics import calculate_psnr, calculate_ssim
from tqdm import tqdm

from ..inference import self_ensemble, synchronize, tiled_forward
from ..metrics import calculate_ssim_3d

__all__ = ['Variant', 'make_forward', 'to_input', 'to_uint8', 'score', 'evaluate_variant', 'read_cache']


class Variant:
    """How a network is run for one leaderboard row.

    Args:
        tlc (bool): Replace global pooling by TLC's local pooling (see :mod:`basicsr_nafnet.archs.tlc`).
        tile (int | None): Tiled inference with this tile size; None runs whole images.
        overlap (int): Tile overlap in pixels.
        x8 (bool): x8 self-ensemble.
    """

    def __init__(self, tlc=False, tile=None, overlap=32, x8=False):
        self.tlc, self.tile, self.overlap, self.x8 = tlc, tile, overlap, x8

    @property
    def label(self):
        parts = ['TLC'] if self.tlc else []
        parts += [f'tile{self.tile}'] if self.tile else []
        parts += ['x8'] if self.x8 else []
        return '+'.join(parts) or 'plain'

    def fingerprint(self):
        return dict(tlc=self.tlc, tile=self.tile, overlap=self.overlap if self.tile else None, x8=self.x8)


def make_forward(net, variant):
    """``f(img) -> output`` running ``net`` as ``variant`` says (tiling inside the ensemble)."""

    def tiled(x):
        return tiled_forward(net, x, tile=variant.tile, overlap=variant.overlap)

    if variant.x8:
        return lambda x: self_ensemble(tiled, x)
    return tiled


def to_input(img, device='cpu'):
    """H x W x C uint8 -> 1 x C x H x W float32 in [0, 1] on ``device``, as the networks take it."""
    return torch.from_numpy(img).permute(2, 0, 1)[None].to(device, torch.float32) / 255.


def to_uint8(output):
    """1 x C x H x W float in [0, 1] -> H x W x C uint8, rounded as BasicSR's ``tensor2img``."""
    img = output[0].detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    return (img * 255.0).round().astype(np.uint8)


def score(restored, sharp, ssim_2d=False):
    """PSNR (BasicSR's function), 3-D SSIM, optionally BasicSR's 2-D SSIM; crop border 0, RGB."""
    result = dict(psnr=float(calculate_psnr(restored, sharp, crop_border=0)),
                  ssim=float(calculate_ssim_3d(restored, sharp, crop_border=0)))
    if ssim_2d:
        result['ssim_2d'] = float(calculate_ssim(restored, sharp, crop_border=0))
    return result


def read_cache(path):
    """``{key: record}`` from a JSON-lines cache; a line cut short by an interruption is ignored."""
    records = {}
    if not os.path.isfile(path):
        return records
    with open(path, encoding='utf-8') as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            records[record['key']] = record
    return records


def _ends_with_newline(path):
    with open(path, 'rb') as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b'\n'


def evaluate_variant(forward, testset, device, cache_path=None, ssim_2d=False, desc='', identity=False):
    """Score ``forward`` on every pair of ``testset``.

    Args:
        forward (callable | None): ``f(1 x 3 x H x W tensor in [0, 1]) -> same``; unused for identity.
        testset (PairedTestSet): The pairs.
        device (torch.device): Where inputs go.
        cache_path (str | None): JSON-lines cache; records found there are not recomputed.
        ssim_2d (bool): Also compute BasicSR's per-channel 2-D SSIM.
        desc (str): Progress bar label.
        identity (bool): Score the blurred input itself (the ``input`` row).

    Returns:
        list[dict]: One record per image: ``key``, ``psnr``, ``ssim``, [``ssim_2d``], ``runtime_s``.
    """
    cached = read_cache(cache_path) if cache_path else {}
    if ssim_2d:  # an older cache without the 2-D column is recomputed
        cached = {k: r for k, r in cached.items() if 'ssim_2d' in r}
    records = []
    cache = open(cache_path, 'a', encoding='utf-8') if cache_path else None
    if cache and cache.tell() > 0 and not _ends_with_newline(cache_path):
        cache.write('\n')  # end the line an interruption cut short, so the next record stands alone
    try:
        for key in tqdm(testset.keys, desc=desc, unit='img', leave=False):
            if key in cached:
                records.append(cached[key])
                continue
            blur, sharp = testset.read(key)
            if identity:
                restored, runtime = blur, 0.0
            else:
                inp = to_input(blur, device)
                synchronize(device)
                start = time.perf_counter()
                with torch.inference_mode():
                    out = forward(inp)
                synchronize(device)
                runtime = time.perf_counter() - start
                restored = to_uint8(out)
            record = dict(key=key, **score(restored, sharp, ssim_2d), runtime_s=runtime)
            records.append(record)
            if cache:
                cache.write(json.dumps(record) + '\n')
                cache.flush()
    finally:
        if cache:
            cache.close()
    return records


def summarize(records):
    """Mean PSNR/SSIM and median runtime of per-image records."""
    out = dict(psnr=statistics.fmean(r['psnr'] for r in records),
               ssim=statistics.fmean(r['ssim'] for r in records),
               runtime_s=statistics.median(r['runtime_s'] for r in records),
               images=len(records))
    out['ssim_2d'] = statistics.fmean(r['ssim_2d'] for r in records) if all('ssim_2d' in r for r in records) else None
    return out
