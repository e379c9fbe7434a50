"""Run by test_distributed.py under torchrun or as a slurm task: train through the pipeline, then dump this rank's
weights, metrics, backend and the warnings it saw."""
import json
import os
import sys
import warnings

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
if 'FAIL_METRIC_ON_RANK' in os.environ:  # test_distributed's failure case: one rank's metric raises mid-run
    if os.environ['FAIL_METRIC_ON_RANK'] == os.environ['RANK']:
        from basicsr_nafnet.models import image_restoration_model
        image_restoration_model.calculate_metric = lambda data, opt: 1 / 0
    from basicsr_nafnet.train import main
    sys.exit(main())  # the command line's entry: its one line and exit status
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter('always')  # every warning, also the ones PyTorch's C++ side raises once per process
    pipeline.train()
model = models[0]
rank = int(os.environ['RANK'])  # set by torchrun, or from SLURM_PROCID by the slurm launcher
torch.save(model.get_bare_model(model.net_g).state_dict(), f'rank{rank}.pth')
with open(f'rank{rank}.json', 'w') as f:
    json.dump({'metrics': model.metric_results, 'backend': torch.distributed.get_backend(),
               'world_size': torch.distributed.get_world_size(), 'master_addr': os.environ.get('MASTER_ADDR'),
               'warnings': [str(w.message) for w in seen]}, f)
