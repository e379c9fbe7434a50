"""The GoPro-protocol 3-D SSIM against a slow, direct float64 implementation of its definition."""
import cv2
import numpy as np
import pytest
import torch
from basicsr.metrics import calculate_metric, calculate_ssim
from basicsr.utils.registry import METRIC_REGISTRY
from skimage import data as skdata

from basicsr_nafnet.metrics import calculate_ssim_3d, calculate_ssim_3d_pt, ssim_3d
from basicsr_nafnet.metrics.gopro_ssim import _ssim_3d_torch


def reference_ssim_3d(img, img2):
    """MATLAB-style 3-D SSIM, written out: an explicit 11x11x11 window over a replicate-padded volume."""
    x = np.asarray(img, np.float64)
    y = np.asarray(img2, np.float64)
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    t = np.arange(11) - 5.
    g = np.exp(-t**2 / (2 * 1.5**2))
    g /= g.sum()
    window = g[:, None, None] * g[None, :, None] * g[None, None, :]  # the full 3-D kernel, not separated

    def local_mean(v):
        padded = np.pad(v, 5, mode='edge')  # replicate padding on all three axes
        patches = np.lib.stride_tricks.sliding_window_view(padded, (11, 11, 11))
        return np.einsum('hwcijk,ijk->hwc', patches, window)

    mu_x, mu_y = local_mean(x), local_mean(y)
    var_x = local_mean(x * x) - mu_x**2
    var_y = local_mean(y * y) - mu_y**2
    cov = local_mean(x * y) - mu_x * mu_y
    c1, c2 = (0.01 * 255)**2, (0.03 * 255)**2
    ssim_map = (2 * mu_x * mu_y + c1) * (2 * cov + c2) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.mean()


def blur(img, k=7):
    """Horizontal box blur (camera shake along one axis), as uint8."""
    out = np.zeros(img.shape, np.float64)
    padded = np.pad(img.astype(np.float64), ((0, 0), (k // 2, k // 2), (0, 0)), mode='edge')
    for i in range(k):
        out += padded[:, i:i + img.shape[1]]
    return np.round(out / k).astype(np.uint8)


def image_pairs():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (23, 31, 3)).astype(np.uint8)
    photo = skdata.astronaut()[100:141, 150:187]  # 41 x 37, odd
    gray = skdata.camera()[200:229, 300:345]  # 29 x 45, one channel
    return [
        ('random', noise, rng.integers(0, 256, noise.shape).astype(np.uint8)),
        ('random-near', noise, np.clip(noise + rng.normal(0, 8, noise.shape), 0, 255).astype(np.uint8)),
        ('photo-blurred', photo, blur(photo)),
        ('gray-blurred', gray, blur(gray[..., None])[..., 0]),
        ('flat-vs-edge', np.full((17, 19, 3), 128,
                                 np.uint8), np.tile(np.arange(19, dtype=np.uint8)[None, :, None] * 13, (17, 1, 3))),
    ]


@pytest.mark.parametrize('name,a,b', image_pairs(), ids=[p[0] for p in image_pairs()])
def test_matches_slow_reference(name, a, b):
    expected = reference_ssim_3d(a, b)
    assert ssim_3d(a, b) == pytest.approx(expected, abs=1e-10)
    assert calculate_ssim_3d(a, b, crop_border=0) == pytest.approx(expected, abs=1e-10)
    # the accelerator path (shifted sums + einsum in torch), run here on CPU tensors in float64
    x = torch.from_numpy(np.atleast_3d(a).astype(np.float64)).permute(2, 0, 1)[None]
    y = torch.from_numpy(np.atleast_3d(b).astype(np.float64)).permute(2, 0, 1)[None]
    assert _ssim_3d_torch(x, y, 255.).item() == pytest.approx(expected, abs=1e-10)


def test_identical_images_score_one_and_symmetry():
    a, b = image_pairs()[2][1:]
    assert ssim_3d(a, a) == pytest.approx(1.0, abs=1e-12)
    assert ssim_3d(a, b) == pytest.approx(ssim_3d(b, a), abs=1e-12)


def test_differs_from_basicsr_2d_ssim_on_blur():
    # the reason this metric exists: the per-channel 2-D form scores blur much lower
    photo = skdata.astronaut()[::4, ::4]
    blurred = blur(photo, 15)
    ssim3, ssim2 = calculate_ssim_3d(photo, blurred, 0), calculate_ssim(photo, blurred, 0)
    assert ssim3 - ssim2 > 0.05


def test_registered_and_called_the_way_validation_calls_it():
    assert METRIC_REGISTRY.get('calculate_ssim_3d') is calculate_ssim_3d
    a, b = image_pairs()[2][1:]
    # BasicSR's validation: calculate_metric(dict(img=..., img2=...), the option entry)
    value = calculate_metric(dict(img=a, img2=b), {
        'type': 'calculate_ssim_3d',
        'crop_border': 0,
        'test_y_channel': False,
        'better': 'higher'
    })
    assert value == pytest.approx(reference_ssim_3d(a, b), abs=1e-10)
    cropped = calculate_metric(dict(img=a, img2=b), {'type': 'calculate_ssim_3d', 'crop_border': 4})
    assert cropped == pytest.approx(reference_ssim_3d(a[4:-4, 4:-4], b[4:-4, 4:-4]), abs=1e-10)


def test_chw_input_and_tensor_variant():
    a, b = image_pairs()[2][1:]
    expected = reference_ssim_3d(a, b)
    assert calculate_ssim_3d(a.transpose(2, 0, 1), b.transpose(2, 0, 1), 0,
                             input_order='CHW') == pytest.approx(expected, abs=1e-10)
    ta = torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255
    tb = torch.from_numpy(b).permute(2, 0, 1)[None].float() / 255
    got = calculate_ssim_3d_pt(torch.cat([ta, tb]), torch.cat([tb, tb]), crop_border=0)
    assert got.shape == (2, )
    assert got[0].item() == pytest.approx(expected, abs=1e-9) and got[1].item() == pytest.approx(1.0)


def test_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match='shapes are different'):
        calculate_ssim_3d(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)), 0)
    with pytest.raises(ValueError, match='one shape'):
        ssim_3d(np.zeros((8, 8, 3)), np.zeros((8, 8)))


@pytest.mark.cuda
def test_cuda_path_matches_cpu(cuda_device):
    a, b = image_pairs()[2][1:]
    got = ssim_3d(torch.from_numpy(a).to(cuda_device), torch.from_numpy(b).to(cuda_device), dtype=torch.float64)
    assert got == pytest.approx(reference_ssim_3d(a, b), abs=1e-9)


def frame_pairs():
    """Two 1280x720 RGB frames (photographs scaled to GoPro's size) and horizontally blurred copies."""
    photos = (skdata.astronaut(), skdata.coffee())
    frames = [cv2.resize(photo, (1280, 720), interpolation=cv2.INTER_CUBIC) for photo in photos]
    return [(f, blur(f, 15)) for f in frames]


@pytest.mark.cuda
def test_cuda_float32_matches_cpu_float64_on_full_frames(cuda_device):
    # the CUDA path computes in float32 (as the official CUDA code) and must still agree on GoPro-sized frames
    pairs = frame_pairs()
    for sharp, blurred in pairs:
        expected = ssim_3d(sharp, blurred)  # float64 on the CPU (checked against the definition above)
        assert 0.5 < expected < 0.99
        got = ssim_3d(torch.from_numpy(sharp).to(cuda_device), torch.from_numpy(blurred).to(cuda_device))
        assert got == pytest.approx(expected, abs=1e-5)
    batch = [torch.stack([torch.from_numpy(p[i]).permute(2, 0, 1).float() / 255 for p in pairs]).to(cuda_device)
             for i in (0, 1)]
    got = calculate_ssim_3d_pt(batch[1], batch[0], crop_border=0).cpu()
    assert got.tolist() == pytest.approx([ssim_3d(b, s) for s, b in pairs], abs=1e-5)


def test_used_by_a_basicsr_validation_run(tmp_path):
    # BasicSR's own SRModel validates a tiny NAFNet on a folder test set with the registered metric
    from basicsr.data import build_dataloader, build_dataset
    from basicsr.models.sr_model import SRModel
    from basicsr.utils import tensor2img
    from tiny_models import TINY_ARGS
    from tiny_sets import make_pairs, write_folder_set

    data = write_folder_set(tmp_path / 'set', make_pairs())
    opt = dict(name='val',
               model_type='SRModel',
               num_gpu=0,
               is_train=False,
               dist=False,
               rank=0,
               world_size=1,
               scale=1,
               network_g=dict(type='NAFNet', **TINY_ARGS),
               path=dict(pretrain_network_g=None),
               val=dict(save_img=False, metrics=dict(ssim=dict(type='calculate_ssim_3d', crop_border=0))))
    dataset = build_dataset(
        dict(name='tiny',
             type='PairedImageDataset',
             dataroot_gt=f'{data}/target',
             dataroot_lq=f'{data}/input',
             io_backend=dict(type='disk'),
             phase='val',
             scale=1))
    loader = build_dataloader(dataset, dict(phase='val'), num_gpu=0, dist=False, sampler=None)
    model = SRModel(opt)
    model.validation(loader, 0, None, save_img=False)
    expected = []
    with torch.no_grad():
        for item in dataset:
            out = model.net_g(item['lq'][None])
            expected.append(calculate_ssim_3d(tensor2img(out), tensor2img(item['gt'][None]), 0))
    assert model.metric_results['ssim'] == pytest.approx(np.mean(expected), abs=1e-9)
