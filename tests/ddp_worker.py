"""Run by test_distributed.py under torchrun: train through the pipeline, then dump this rank's weights and metrics."""
import json
import os

import basicsr_nafnet  # noqa: F401
import basicsr.train
import torch

from basicsr_nafnet.engine import pipeline

models = []
build_model = basicsr.train.build_model


def capture(opt):
    models.append(build_model(opt))
    return models[-1]


basicsr.train.build_model = capture
pipeline.train()
model = models[0]
rank = int(os.environ['RANK'])
torch.save(model.get_bare_model(model.net_g).state_dict(), f'rank{rank}.pth')
with open(f'rank{rank}.json', 'w') as f:
    json.dump({'metrics': model.metric_results, 'backend': torch.distributed.get_backend()}, f)
