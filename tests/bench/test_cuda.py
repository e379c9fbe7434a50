"""What only a CUDA GPU can show: mixed-precision training steps, NCCL through torchrun, reduced-precision deploy paths.

Every test here is marked ``cuda``: skipped (and counted as skipped) without a GPU, run by ``pytest -m cuda``
and by ``scripts/gpu_check.sh``. ``NAFNET_CUDA_TESTS_DEVICE=cpu pytest -m cuda`` runs their code on the CPU
(gloo instead of NCCL) to check it where no GPU is lent. The 3-D SSIM's CUDA tests are in test_metrics.py,
GPU resume in test_training.py.
"""
import contextlib
import json
import os
import socket
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from basicsr.archs import build_network
from tiny_models import TINY_ARCH_CONFIGS
from skimage import data as skdata
from training_utils import tiny_options

from basicsr_nafnet.bench.configs import build_arch, gopro_configs
from basicsr_nafnet.data.prepare import prepare_gopro
from basicsr_nafnet.data.synthetic import make_synthetic_gopro
from basicsr_nafnet.engine.options import project_option_file
from basicsr_nafnet.inference import prepare_for_inference
from basicsr_nafnet.models.channels_last import to_channels_last
from basicsr_nafnet.models.image_restoration_model import ImageRestorationModel

pytestmark = pytest.mark.cuda
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTS_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # where the shared helpers live
WORKER = os.path.join(TESTS_ROOT, 'ddp_worker.py')
DTYPES = {None: torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}


def blurred_photo_batch(device, batch=4, size=64):
    """Sharp crops of a photograph and a horizontally box-blurred copy (N x 3 x size x size in [0, 1])."""
    photo = skdata.astronaut()
    sharp = [photo[64 * i:64 * i + size, 128 + 48 * i:128 + 48 * i + size] for i in range(batch)]
    blur = [cv2.blur(s, (9, 1)) for s in sharp]

    def stack(images):
        return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(255).to(device)

    return stack(blur), stack(sharp)


def training_model(device, **train):
    """An ImageRestorationModel with a tiny NAFNet on ``device``, the tiny recipe plus ``train`` options."""
    opt = tiny_options('unused', total_iter=20)
    opt.update(num_gpu=1 if device.type == 'cuda' else 0, dist=False, is_train=True, rank=0, world_size=1)
    opt['train'].update(use_grad_clip=False, **train)
    torch.manual_seed(0)
    return ImageRestorationModel(opt)


@pytest.mark.parametrize('train', [dict(), dict(autocast='bf16'), dict(autocast='fp16'),
                                   dict(autocast='bf16', channels_last=True)],
                         ids=['fp32', 'bf16', 'fp16-gradscaler', 'bf16-channels_last'])
def test_training_steps_stay_finite_and_lower_the_loss(train, cuda_device):
    model = training_model(cuda_device, **train)
    lq, gt = blurred_photo_batch(cuda_device)
    conv_dtypes = set()  # the network's output is float32 (it adds its input), its convolutions are not
    model.net_g.intro.register_forward_hook(lambda module, args, out: conv_dtypes.add(out.dtype))
    losses = []
    for step in range(1, 9):  # the same batch each step: the loss must fall
        model.feed_data({'lq': lq, 'gt': gt})
        model.optimize_parameters(step)
        losses.append(model.log_dict['l_pix'])
    assert conv_dtypes == {DTYPES[train.get('autocast')]}  # the forward really ran in that precision
    assert all(np.isfinite(losses)), losses
    assert losses[-1] < losses[0] - 0.1, losses  # PSNR loss: -PSNR in dB, so 0.1 dB better at least
    assert model.grad_scaler.is_enabled() == (train.get('autocast') == 'fp16')
    if model.grad_scaler.is_enabled():
        assert np.isfinite(model.grad_scaler.get_scale())
    for p in model.net_g.parameters():
        assert torch.isfinite(p).all()


@pytest.mark.parametrize('autocast', [None, 'bf16'])
def test_channels_last_gradients_fit_ddp_buckets_on_the_device(autocast, cuda_device):
    for name in ('NAFNet', 'Baseline', 'DeblurUNet'):
        torch.manual_seed(0)
        net = to_channels_last(build_network({'type': name, **TINY_ARCH_CONFIGS[name]}).to(cuda_device))
        x = torch.rand(2, 3, 32, 32, device=cuda_device).contiguous(memory_format=torch.channels_last)
        with torch.autocast(cuda_device.type, dtype=torch.bfloat16, enabled=autocast is not None):
            loss = net(x).float().square().mean()
        loss.backward()
        assert not [n for n, p in net.named_parameters() if p.grad.stride() != p.stride()], name


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_torchrun_trains_the_demo_file_to_the_end(cuda_device, tmp_path):
    # the demo's data paths, made small: 4 training pairs of 96x96 cut into 64x64 crops, 1 held-out pair
    data = tmp_path / 'datasets' / 'synthetic_gopro'
    make_synthetic_gopro(str(data), train=4, test=1, size=(96, 96), progress=False)
    prepare_gopro(str(data), crop_size=64, step=32, workers=0, progress=False)
    iters = 20
    overrides = [f'num_gpu={int(cuda_device.type == "cuda")}', f'train:total_iter={iters}',
                 f'train:scheduler:T_max={iters}', f'val:val_freq={iters}', f'logger:save_checkpoint_freq={iters}',
                 'logger:print_freq=10', 'val:pbar=false']
    env = dict(os.environ, OMP_NUM_THREADS='1', MASTER_ADDR='127.0.0.1', PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=1', f'--master_port={free_port()}', WORKER,
           '-opt', project_option_file('demo/NAFNet-demo.yml'), '--launcher', 'pytorch', '--force_yml', *overrides]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / 'rank0.json').read_text())
    assert report['backend'] == ('nccl' if cuda_device.type == 'cuda' else 'gloo')
    run = tmp_path / 'experiments' / 'NAFNet-demo'
    assert (run / 'training_states' / f'{iters}.state').is_file()
    params = torch.load(run / 'models' / 'net_g_latest.pth', weights_only=True)['params']
    assert all(torch.isfinite(v).all() for v in params.values())
    assert np.isfinite(report['metrics']['psnr']) and 0 < report['metrics']['ssim'] <= 1


@contextlib.contextmanager
def without_tf32():
    """True float32 convolutions and matmuls (TF32 is on for cuDNN by default); restored on the way out."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.mark.parametrize('precision,tolerance', [('fp16', 5e-3), ('bf16', 2e-2)])
def test_fused_low_precision_inference_within_tolerance(precision, tolerance, cuda_device):
    # NAFNet-width32 (GoPro configuration) with beta/gamma away from their zero init, as in a trained network
    net = build_arch('NAFNet', gopro_configs()['NAFNet'], cuda_device)
    blur, _ = blurred_photo_batch(cuda_device, batch=1, size=256)
    with torch.no_grad(), without_tf32():  # the float32 reference in true float32
        reference = net(blur)
    out = prepare_for_inference(net, precision=precision)(blur)
    diff = (out - reference).abs().max().item()
    print(f'{precision}: max abs diff {diff:.2e} (tolerance {tolerance:g})')
    assert 0 < diff <= tolerance  # > 0: it really ran in reduced precision
