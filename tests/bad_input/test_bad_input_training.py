"""Bad input, train, test and demo: option files, --force_yml, checkpoints, launchers.

The check, the world and the catalogue: bad_input_harness.py and conftest.py.
"""
import pytest
from bad_input_harness import assert_refused_cleanly, case_ids

CASES = [
    # basicsr_nafnet/train.py
    ('train-missing-option-file', 'train', ['-opt', 'nope.yml'], 2, ['nope.yml', 'not found']),
    ('train-option-file-is-a-folder', 'train', ['-opt', 'imgs'], 2, ['imgs', 'folder']),
    ('train-python-tag', 'train', ['-opt', 'tag.yml'], 2, ['tag.yml', 'line 1', 'refused']),
    ('train-invalid-yaml', 'train', ['-opt', 'broken.yml'], 2, ['broken.yml', 'not valid YAML']),
    ('train-top-level-list', 'train', ['-opt', 'list.yml'], 2, ['list.yml', 'mapping']),
    ('train-total-iter-not-a-number', 'train', ['-opt', 'ok.yml', '--force_yml', 'train:total_iter=abc'], 2,
     ['train.total_iter', 'abc']),
    ('train-name-absolute', 'train', ['-opt', 'ok.yml', '--force_yml', 'name={outside}'], 2, ['name', 'single']),
    ('train-name-parent', 'train', ['-opt', 'ok.yml', '--force_yml', 'name=../outside'], 2, ['name', 'single']),
    ('train-unknown-arch', 'train', ['-opt', 'ok.yml', '--force_yml', 'network_g:type=NoSuchArch'], 2,
     ['network_g.type', 'NoSuchArch']),
    ('train-wrong-arch-argument', 'train', ['-opt', 'ok.yml', '--force_yml', 'network_g:widht=3'], 2,
     ['network_g', 'widht']),
    ('train-force-yml-without-value', 'train', ['-opt', 'ok.yml', '--force_yml', 'train:total_iter'], 2,
     ['--force_yml', 'key:sub_key=value']),
    ('train-force-yml-unknown-section', 'train', ['-opt', 'ok.yml', '--force_yml', 'nosuch:key=1'], 2,
     ['--force_yml', 'nosuch']),
    ('train-missing-dataroot', 'train', ['-opt', 'ok.yml', '--force_yml', 'datasets:train:dataroot_gt=gone'], 2,
     ['datasets.train.dataroot_gt', 'gone']),
    ('train-batch-larger-than-data', 'train', ['-opt', 'ok.yml', '--force_yml', 'datasets:train:batch_size_per_gpu=64'],
     2, ['datasets.train.batch_size_per_gpu']),
    ('train-unknown-optimizer', 'train', ['-opt', 'ok.yml', '--force_yml', 'train:optim_g:type=Turbo'], 2,
     ['train.optim_g.type', 'Turbo']),
    ('train-learning-rate-text', 'train', ['-opt', 'ok.yml', '--force_yml', 'train:optim_g:lr=fast'], 2,
     ['train.optim_g.lr']),
    ('train-unknown-scheduler', 'train', ['-opt', 'ok.yml', '--force_yml', 'train:scheduler:type=Wavy'], 2,
     ['train.scheduler.type', 'Wavy']),
    ('train-unknown-loss', 'train', ['-opt', 'ok.yml', '--force_yml', 'train:pixel_opt:type=NoLoss'], 2,
     ['train.pixel_opt.type', 'NoLoss']),
    ('train-unknown-metric', 'train', ['-opt', 'ok.yml', '--force_yml', 'val:metrics:psnr:type=nometric'], 2,
     ['val.metrics.psnr.type']),
    ('train-autocast', 'train', ['-opt', 'ok.yml', '--force_yml', 'train:autocast=fp8'], 2, ['train.autocast']),
    ('train-compile-not-a-bool', 'train', ['-opt', 'ok.yml', '--force_yml', 'train:compile=fast'], 2,
     ['train.compile', 'fast']),
    ('train-pretrain-text', 'train', ['-opt', 'ok.yml', '--force_yml', 'path:pretrain_network_g=text.pth'], 2,
     ['path.pretrain_network_g', 'text.pth']),
    ('train-resume-state-text', 'train', ['-opt', 'ok.yml', '--force_yml', 'path:resume_state=text.pth'], 2,
     ['training state', 'text.pth']),
    ('train-launcher-without-torchrun', 'train', ['-opt', 'ok.yml', '--launcher', 'pytorch'], 2,
     ['--launcher pytorch', 'torchrun']),
    ('train-slurm-without-srun', 'train', ['-opt', 'ok.yml', '--launcher', 'slurm'], 2,
     ['--launcher slurm', 'SLURM_PROCID', 'srun']),
    ('train-unknown-flag', 'train', ['-opt', 'ok.yml', '--bogus'], 2, ['--bogus']),
    ('train-unet-unknown-norm', 'train', ['-opt', 'ok.yml', '--force_yml', 'network_g:type=DeblurUNet',
                                          'network_g:norm=group'], 2, ['network_g', "unknown norm 'group'"]),
    ('train-unet-residual-not-bool', 'train', ['-opt', 'ok.yml', '--force_yml', 'network_g:type=DeblurUNet',
                                               'network_g:global_residual=maybe'], 2,
     ['network_g', 'global_residual must be true or false']),
    ('train-crop-larger-than-images', 'train', ['-opt', 'ok.yml', '--force_yml', 'datasets:train:gt_size=4096'], 2,
     ['datasets.train.gt_size', 'patch size']),
    ('train-optimizer-fails-on-step', 'train', ['-opt', 'ok.yml', '--force_yml', 'train:optim_g:capturable=true'], 2,
     ['train.optim_g', 'capturable']),
    ('train-no-reference-metric', 'train', ['-opt', 'ok.yml', '--force_yml', 'val:metrics:psnr:type=calculate_niqe'],
     2, ['val.metrics.psnr.type', 'no-reference']),
    # basicsr_nafnet/test.py
    ('test-missing-option-file', 'test', ['-opt', 'nope.yml'], 2, ['nope.yml', 'not found']),
    ('test-text-checkpoint', 'test', ['-opt', 'ok_test.yml', '--force_yml', 'path:pretrain_network_g=text.pth'], 2,
     ['path.pretrain_network_g', 'text.pth']),
    ('test-code-in-checkpoint', 'test', ['-opt', 'ok_test.yml', '--force_yml', 'path:pretrain_network_g=evil.pth'], 2,
     ['evil.pth', 'refused']),
    ('test-other-arch-checkpoint', 'test', ['-opt', 'ok_test.yml', '--force_yml',
                                            'path:pretrain_network_g=other_arch.pth'], 2, ['other_arch.pth',
                                                                                           'does not fit']),
    ('test-no-checkpoint', 'test', ['-opt', 'ok_test.yml', '--force_yml', 'path:pretrain_network_g=null'], 2,
     ['path.pretrain_network_g', 'trained weights']),
    ('test-dataset-name-escapes', 'test', ['-opt', 'ok_test.yml', '--force_yml', 'datasets:test:name=../x'], 2,
     ['datasets.test.name']),
    ('test-suffix-escapes', 'test', ['-opt', 'ok_test.yml', '--force_yml', 'val:suffix=../x'], 2, ['val.suffix']),
    ('test-name-escapes', 'test', ['-opt', 'ok_test.yml', '--force_yml', 'name=../outside'], 2, ['name']),
    # python -m basicsr_nafnet.demo
    ('demo-zero-iterations', 'demo', ['--iters', '0'], 2, ['--iters']),
    ('demo-root-is-a-file', 'demo', ['--root', 'notes.txt'], 2, ['--root', 'notes.txt']),
    ('demo-ladder-and-all', 'demo', ['--ladder', '--all'], 2, ['--all', '--ladder']),
    ('demo-ladder-root-is-a-file', 'demo', ['--ladder', '--root', 'notes.txt'], 2, ['--root', 'notes.txt']),
]


@pytest.mark.parametrize('case', CASES, ids=case_ids(CASES))
def test_bad_input_is_refused_cleanly(case, world, capsys, monkeypatch):
    assert_refused_cleanly(case, world, capsys, monkeypatch)
