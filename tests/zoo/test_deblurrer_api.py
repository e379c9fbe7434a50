"""The Python API: Deblurrer(model).deblur(image) keeps the image's format and equals the network's own output."""
import cv2
import numpy as np
import pytest
import torch
from basicsr.archs import build_network

from tiny_models import TINY_ARCH_CONFIGS

from basicsr_nafnet.errors import UserError
from basicsr_nafnet.inference.api import Deblurrer

TINY = dict(TINY_ARCH_CONFIGS['NAFNet'])


@pytest.fixture
def checkpoint(tmp_path):
    net = build_network({'type': 'NAFNet', **TINY})
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.1)
    path = tmp_path / 'tiny.pth'
    torch.save({'params': net.state_dict()}, path)
    args = ','.join(f'{k}={list(v) if isinstance(v, tuple) else v}' for k, v in TINY.items())
    return f'NAFNet:{args}@{path}', net.eval()


def _expected(net, bgr):
    rgb = torch.from_numpy(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        out = net(rgb)[0].clamp(0, 1).permute(1, 2, 0).numpy()
    return cv2.cvtColor(np.round(out * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)


def test_bgr_in_bgr_out_as_the_network_computes(checkpoint):
    spec, net = checkpoint
    bgr = np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    out = Deblurrer(spec).deblur(bgr)
    assert out.shape == bgr.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - _expected(net, bgr).astype(int)).max() <= 1  # fused path: float rounding


def test_gray_alpha_and_16_bit_keep_their_format(checkpoint):
    deblurrer = Deblurrer(checkpoint[0], tile=16, overlap=4)
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (20, 24), dtype=np.uint8)
    assert deblurrer.deblur(gray).shape == (20, 24)
    bgra = rng.integers(0, 256, (20, 24, 4), dtype=np.uint8)
    out = deblurrer.deblur(bgra)
    assert out.shape == (20, 24, 4) and np.array_equal(out[..., 3], bgra[..., 3])
    deep = rng.integers(0, 65536, (20, 24, 3), dtype=np.uint16)
    assert deblurrer.deblur(deep).dtype == np.uint16


def test_bad_images_and_settings_are_user_errors(checkpoint):
    deblurrer = Deblurrer(checkpoint[0])
    with pytest.raises(UserError, match='float32 pixels'):
        deblurrer.deblur(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(UserError, match='channels'):
        deblurrer.deblur(np.zeros((8, 8, 2), np.uint8))
    with pytest.raises(UserError, match='tile must be positive'):
        Deblurrer(checkpoint[0], tile=0)
    with pytest.raises(UserError, match='needs trained weights'):
        Deblurrer('NAFNet:width=8')
