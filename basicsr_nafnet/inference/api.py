"""Deblurring inside your own program: a model opened once, then ``deblur(image)`` on numpy arrays.

    from basicsr_nafnet.inference.api import Deblurrer
    deblurrer = Deblurrer('NAFNet-GoPro-width64', device='cpu', tile=512)
    sharp = deblurrer.deblur(cv2.imread('blurry.jpg', cv2.IMREAD_UNCHANGED))

The image is what OpenCV reads (BGR, BGRA or gray; uint8 or uint16) and comes back in the same format, alpha
kept, as ``scripts/deblur.py`` writes it. The model is any ``--model`` spec: a zoo name (downloaded into the cache
on first use), an option file, ``ARCH:k=v@checkpoint`` (a file or URL), a dict, or an ``.onnx`` file.
"""
import torch

from ..ops.tiling import check_tiling
from .deblur import _restore
from .photo import image_to_rgb, rgb_to_image
from .open import open_model

__all__ = ['Deblurrer']


class Deblurrer:
    """A deblurring model, opened once, for numpy images.

    Args:
        model (str | dict): A model spec (see :mod:`basicsr_nafnet.inference.spec`), e.g. 'NAFNet-GoPro-width64'.
        device (str | torch.device): Where to compute. Default: 'cpu'.
        tile (int | None): Run large images in tiles of this size (bounded memory). Default: None (whole image).
        overlap (int): Tile overlap in pixels. Default: 32.
        runtime (str | None): None (PyTorch), 'onnxruntime' or 'openvino'.
        precision (str): 'fp32' (default), 'fp16' or 'bf16'.

    Attributes:
        name (str), checkpoint (str | None): What was opened.
    """

    def __init__(self, model, device='cpu', tile=None, overlap=32, runtime=None, precision='fp32'):
        check_tiling(tile, overlap)
        self.device = torch.device(device)
        self._opened = open_model(model, self.device, runtime, precision, needs_weights='deblurring')
        self.name, self.checkpoint = self._opened.name, self._opened.checkpoint
        self.tile, self.overlap = tile, overlap

    def deblur(self, image):
        """Deblur one image (an OpenCV array: BGR/BGRA/gray, uint8/uint16); returns the same format."""
        rgb, meta = image_to_rgb(image)
        return rgb_to_image(_restore(self._opened.runner, rgb, self.device, self.tile, self.overlap), meta)
