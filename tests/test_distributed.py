"""Two CPU ranks through torchrun and BasicSR's --launcher pytorch: gloo, identical weights, reduced metrics."""
import json
import os
import socket
import subprocess
import sys

import cv2
import numpy as np
import torch
from basicsr.archs import build_network
from basicsr.metrics import calculate_psnr
from basicsr.utils import img2tensor, tensor2img
from training_utils import make_paired_folders, tiny_options, write_options

WORKER = os.path.join(os.path.dirname(__file__), 'ddp_worker.py')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_cpu_ranks_train_identically_and_reduce_validation(tmp_path):
    data = make_paired_folders(str(tmp_path / 'data'), n_train=8, n_val=3)  # 3 val images: uneven split
    opt = tiny_options(data, name='ddp', total_iter=4)
    opt['datasets']['train']['num_worker_per_gpu'] = 1
    opt_path = write_options(opt, tmp_path / 'opt.yml')
    env = dict(os.environ, OMP_NUM_THREADS='1', MASTER_ADDR='127.0.0.1')
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2', f'--master_port={free_port()}',
           WORKER, '-opt', opt_path, '--launcher', 'pytorch']
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    reports = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in range(2)]
    assert [r['backend'] for r in reports] == ['gloo', 'gloo']
    weights = [torch.load(tmp_path / f'rank{r}.pth', weights_only=True) for r in range(2)]
    for key in weights[0]:
        assert torch.equal(weights[0][key], weights[1][key]), key
    assert reports[0]['metrics'] == reports[1]['metrics']

    # the reduced PSNR is the mean over all 3 images, recomputed here in one process
    net = build_network(opt['network_g'])
    net.load_state_dict(weights[0])
    net.eval()
    psnrs = []
    for name in sorted(os.listdir(f'{data}/val/blur')):
        blur = img2tensor(cv2.imread(f'{data}/val/blur/{name}').astype(np.float32) / 255.0)
        sharp = cv2.imread(f'{data}/val/sharp/{name}')
        with torch.no_grad():
            restored = tensor2img([net(blur[None])])
        psnrs.append(calculate_psnr(restored, sharp, 0))
    assert abs(reports[0]['metrics']['psnr'] - float(np.mean(psnrs))) < 1e-6
