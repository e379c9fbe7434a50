"""Deblurring your own photographs: files or folders in, restored images out (the image formats: :mod:`.photo`).

Images of any size and aspect are accepted. Grayscale images are processed as three equal channels
and saved as grayscale; RGBA images keep their alpha channel untouched; 16-bit images are
processed in float and saved as 16-bit; the EXIF orientation is applied before processing, so the
output is upright (and carries no orientation tag). Outputs are written to a temporary file and
renamed into place, only inside the output folder, and never replace an input; an output folder
inside an input folder is not read as input. Every such check runs before any image is processed
(:func:`plan_outputs`); an unreadable image is then reported and skipped.
"""
import os
import sys
import time
from collections import namedtuple

import cv2
import numpy as np
import torch

from ..errors import UserError
from ..fileio import IMAGE_EXTENSIONS, is_inside, remove_stale_temporaries
from ..locks import LOCK_NAME, output_lock
from .paths import InferenceRunner, prepare_for_inference
from .photo import image_to_rgb, read_photo, rgb_to_image, write_photo  # noqa: F401  (re-exported)
from .runtimes import RuntimeRunner
from ..ops.tiling import check_tiling, tiled_forward

__all__ = [
    'DeblurResult', 'collect_inputs', 'plan_outputs', 'image_to_rgb', 'rgb_to_image', 'read_photo', 'write_photo',
    'deblur_array', 'deblur_files'
]

DeblurResult = namedtuple('DeblurResult', ['written', 'failed', 'seconds'], defaults=((), ))
DeblurResult.__doc__ = ('``written``: list of (input, output) paths; ``failed``: list of (input, message); '
                        '``seconds``: wall time of each written image (read, restore, write), in ``written``\'s order.')


def collect_inputs(paths, exclude=None):
    """Expand files and folders (recursively) into ``(file, relative output stem)`` pairs.

    Args:
        paths (list[str]): Image files and/or folders.
        exclude (str | None): A folder not to walk into (the output folder, so a second run never
            reads the first run's outputs as inputs).

    Returns:
        list[tuple[str, str]]: Each image and its path relative to the folder it was found in,
        without extension (used to mirror the folder structure in the output).

    Raises:
        UserError: A path that does not exist.
    """
    found = []
    for path in paths:
        if os.path.isdir(path):
            for folder, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not (exclude and is_inside(os.path.join(folder, d), exclude)))
                for f in sorted(files):
                    if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith('.'):
                        full = os.path.join(folder, f)
                        found.append((full, os.path.splitext(os.path.relpath(full, path))[0]))
        elif os.path.exists(path):
            found.append((path, os.path.splitext(os.path.basename(path))[0]))
        else:
            raise UserError(f'{path}: no such file or folder')
    return found


def output_extension(ext, input_path):
    """The output file extension for ``--ext`` (``'same'``: the input's own)."""
    return os.path.splitext(input_path)[1] if ext == 'same' else '.' + ext.lstrip('.').lower()


def plan_outputs(inputs, out_dir, ext='png', suffix=''):
    """Check the arguments of a deblurring run and pair every input image with its output path.

    Everything that would make the run write outside ``out_dir``, replace an input, write two images to
    one name, or fail for every image is found here, before any image is processed. Earlier outputs are
    not taken as inputs: ``out_dir`` is not walked into, and where it is an input folder itself, a ``suffix`` is
    required and files whose name ends with it are skipped.

    Args:
        inputs (list[str]): Image files and/or folders.
        out_dir (str): Output folder (mirrors the folder structure of the inputs).
        ext (str): Output format ('png', 'jpg', 'tif', ... or 'same').
        suffix (str): Appended to each output name; it must not hold a path separator.

    Returns:
        list[tuple[str, str]]: ``(input, output)`` paths.

    Raises:
        UserError: Any of the problems above, or no image among ``inputs``.
    """
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UserError(f'-o/--output {out_dir}: exists and is not a folder')
    if ext != 'same' and not cv2.haveImageWriter('x.' + ext.lstrip('.')):
        raise UserError(f"--ext {ext!r}: OpenCV cannot write this format; use png, jpg, tif, bmp or 'same'")
    if any(sep in suffix for sep in ('/', '\\', os.sep, '\0')):
        raise UserError(f'--suffix {suffix!r}: must not hold a path separator (outputs stay inside -o/--output)')
    for path in inputs:  # a rerun would read this run's outputs back as inputs, unless a suffix tells them apart
        if not suffix and os.path.isdir(path) and os.path.realpath(path) == os.path.realpath(out_dir):
            raise UserError(f'-o/--output {out_dir}: also an input folder; without a --suffix its outputs would '
                            'overwrite an input or be read back as inputs by the next run: pass e.g. --suffix '
                            '_deblurred, or choose another -o')
    files = collect_inputs(inputs, exclude=out_dir)
    if suffix:  # outputs written beside their inputs by an earlier run: never deblur them again
        files = [(f, stem) for f, stem in files
                 if not (stem.endswith(suffix) and is_inside(os.path.dirname(f) or '.', out_dir))]
    if not files:
        raise UserError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {', '.join(inputs)}")
    input_paths = {os.path.realpath(f) for f, _ in files}
    plan, claimed = [], {}
    for path, stem in files:
        out_path = os.path.join(out_dir, stem + suffix + output_extension(ext, path))
        real = os.path.realpath(out_path)
        if not is_inside(out_path, out_dir):
            raise UserError(f'{path}: its output {out_path} would lie outside {out_dir}')
        if real in input_paths:
            raise UserError(f'{path}: its output {out_path} would overwrite an input; choose another -o or a --suffix')
        if real in claimed:
            raise UserError(f'{claimed[real]} and {path} would both be written to {out_path}; use --ext same or '
                            'deblur them separately')
        claimed[real] = path
        plan.append((path, out_path))
    return plan


def _prepared(net, precision='fp32', compile=False):
    """The network as it runs: ``net`` when already a runner, else its execution path (made once).

    A runner keeps the precision and compilation it was made with, so asking for others is refused rather than
    ignored.
    """
    if isinstance(net, (InferenceRunner, RuntimeRunner)):
        if precision != 'fp32' or compile:
            raise ValueError(f'{type(net).__name__} is already prepared (its precision and compilation are its own); '
                             f'pass the network itself to run it with precision={precision!r}, compile={compile}')
        return net
    return prepare_for_inference(net, precision, compile=compile)


def _restore(runner, rgb, device, tile, overlap):
    x = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[None].to(device)
    with torch.inference_mode():
        out = tiled_forward(runner, x, tile=tile, overlap=overlap)
    return out[0].float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def deblur_array(net, rgb, device='cpu', tile=None, overlap=32, precision='fp32'):
    """Run ``net`` on one ``H x W x 3`` float RGB image; returns the same layout, clipped to [0, 1].

    Args:
        net (nn.Module): The network, already on ``device`` (run on the path ``precision`` names), or a runner:
            an ``InferenceRunner`` from :func:`~basicsr_nafnet.inference.open_model` or
            :func:`~basicsr_nafnet.inference.prepare_for_inference`, or a
            :class:`~basicsr_nafnet.inference.runtimes.RuntimeRunner` (ONNX Runtime, OpenVINO); a runner keeps
            its own precision, and another ``precision`` than 'fp32' is refused for it.
        rgb (ndarray): The image.
        device (str | torch.device): Where to compute.
        tile (int | None), overlap (int): Tiled inference (see :func:`~basicsr_nafnet.inference.tiled_forward`).
        precision (str): 'fp32' (default: the fastest float32 path, fused and channels_last), 'fp16' or
            'bf16' (converted weights); see :func:`~basicsr_nafnet.inference.prepare_for_inference`.
    """
    return _restore(_prepared(net, precision), rgb, torch.device(device), tile, overlap)


def deblur_files(runner,
                 inputs,
                 out_dir,
                 device='cpu',
                 tile=None,
                 overlap=32,
                 ext='png',
                 suffix='',
                 progress=True,
                 plan=None):
    """Deblur image files into ``out_dir``, mirroring folder structure; failures are collected, not raised.

    The arguments are checked first (:func:`plan_outputs`, which raises ``UserError``); after that an
    image that cannot be read or written is reported in the result and the others go on. The output folder is
    locked meanwhile: a second run into it is refused (``OutputBusy``, naming this one); hidden temporary files a
    killed run left there are removed. Outputs are rewritten, so running the same command again after a kill
    finishes the job.

    Args:
        runner (callable): How the network runs: ``open_model(...).runner`` (its precision, compilation and
            runtime chosen there), any ``InferenceRunner`` or ``RuntimeRunner``; a plain network (on ``device``, in
            eval mode) runs on the default float32 path of :func:`~basicsr_nafnet.inference.prepare_for_inference`.
        inputs (list[str]): Files and/or folders.
        out_dir (str): Output folder.
        device, tile, overlap: See :func:`deblur_array`.
        ext (str): Output format: 'png' (default; lossless, keeps 16-bit), 'tif', 'jpg', ... or
            'same' for the input's own extension.
        suffix (str): Appended to each output name (e.g. '_deblurred').
        progress (bool): Show a tqdm bar.
        plan (list[tuple[str, str]] | None): What :func:`plan_outputs` returned for these arguments, if
            the caller already checked them (then they are not listed again).

    Returns:
        DeblurResult: Written ``(input, output)`` pairs and failed ``(input, message)`` pairs.
    """
    from tqdm import tqdm

    check_tiling(tile, overlap, 'tile', 'overlap')
    plan = plan if plan is not None else plan_outputs(inputs, out_dir, ext, suffix)
    runner, device = _prepared(runner), torch.device(device)  # once for all files
    written, failed, seconds = [], [], []
    os.makedirs(out_dir, exist_ok=True)
    with output_lock(os.path.join(out_dir, LOCK_NAME), out_dir,
                     announce=(lambda line: print(line, file=sys.stderr)) if progress else None):
        for folder in sorted({os.path.dirname(out_path) for _, out_path in plan}):
            remove_stale_temporaries(folder)  # half-written images of a killed run, never visible ones
        for path, out_path in tqdm(plan, desc='deblur', unit='img', disable=not progress):
            try:
                started = time.perf_counter()
                rgb, meta = read_photo(path)
                restored = _restore(runner, rgb, device, tile, overlap)
                written.append((path, write_photo(out_path, restored, meta)))
                seconds.append(time.perf_counter() - started)
            except (ValueError, OSError, cv2.error, RuntimeError) as err:
                message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                failed.append((path, message if path in message else f'{path}: {message}'))
    return DeblurResult(written, failed, seconds)
