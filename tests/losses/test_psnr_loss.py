"""PSNRLoss against hand-computed values."""
import math

import pytest
import torch
from basicsr.losses import build_loss


def psnr_loss(**kwargs):
    return build_loss({'type': 'PSNRLoss', **kwargs})


def test_identical_images_give_minus_80():
    x = torch.rand(2, 3, 8, 8)
    assert psnr_loss()(x, x).item() == pytest.approx(-80.0, abs=1e-4)  # 10 * log10(1e-8)


def test_known_mse_per_image_then_batch_mean():
    pred = torch.zeros(2, 3, 4, 4)
    target = torch.cat([torch.full((1, 3, 4, 4), 0.1), torch.full((1, 3, 4, 4), 0.5)])
    # image 0: mse 0.01 -> 10*log10(0.01 + 1e-8); image 1: mse 0.25
    expected = (10 * math.log10(0.01 + 1e-8) + 10 * math.log10(0.25 + 1e-8)) / 2
    assert psnr_loss()(pred, target).item() == pytest.approx(expected, abs=1e-4)
    assert psnr_loss(loss_weight=0.5)(pred, target).item() == pytest.approx(0.5 * expected, abs=1e-4)


def test_to_y_uses_bt601_luma():
    pred = torch.zeros(1, 3, 2, 2)
    pred[:, 0] = 1.0  # pure red: Y = (16 + 65.481) / 255
    target = torch.zeros(1, 3, 2, 2)
    target[:, 2] = 1.0  # pure blue: Y = (16 + 24.966) / 255
    diff = (65.481 - 24.966) / 255
    expected = 10 * math.log10(diff**2 + 1e-8)
    assert psnr_loss(toY=True)(pred, target).item() == pytest.approx(expected, abs=1e-4)
    # on RGB the same pair has mse 2/3
    assert psnr_loss()(pred, target).item() == pytest.approx(10 * math.log10(2 / 3 + 1e-8), abs=1e-4)


def test_weight_makes_a_weighted_mse():
    pred = torch.zeros(1, 1, 1, 2)
    target = torch.tensor([[[[0.1, 0.3]]]])
    weight = torch.tensor([[[[3.0, 1.0]]]])
    mse = (3 * 0.01 + 1 * 0.09) / 4
    assert psnr_loss()(pred, target, weight).item() == pytest.approx(10 * math.log10(mse + 1e-8), abs=1e-4)


def test_only_mean_reduction():
    with pytest.raises(ValueError, match="supported: 'mean'"):
        psnr_loss(reduction='sum')


def test_rejects_bad_shapes():
    with pytest.raises(ValueError, match='differ in shape'):
        psnr_loss()(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))
    with pytest.raises(ValueError, match='3 channels'):
        psnr_loss(toY=True)(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4))


def test_constants_are_buffers_and_gradient_flows():
    loss = psnr_loss(toY=True)
    assert {'scale', 'y_coef', 'y_offset'} <= {name for name, _ in loss.named_buffers()}
    assert loss.state_dict() == {}  # non-persistent: checkpoints stay clean
    loss = loss.to(torch.float64)
    pred = torch.rand(2, 3, 5, 5, dtype=torch.float64, requires_grad=True)
    loss(pred, torch.rand(2, 3, 5, 5, dtype=torch.float64)).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
