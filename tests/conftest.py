"""Shared test set-up: import the plugin first (it applies the shims basicsr needs), tiny configs."""
import basicsr_nafnet  # noqa: F401  (must precede any basicsr import)
import pytest
import torch

# A tiny configuration for every arch we register; test_archs.py fails if one is missing.
TINY_ARCH_CONFIGS = {
    'ResidualCNN': dict(num_feat=8, num_block=2),
    'DeblurUNet': dict(width=8, enc_blk_nums=(1, 1), middle_blk_num=1, dec_blk_nums=(1, 1)),
    'NAFNet': dict(width=8, enc_blk_nums=(1, 1), middle_blk_num=1, dec_blk_nums=(1, 1)),
    'NAFNetLocal': dict(width=8, enc_blk_nums=(1, 1), middle_blk_num=1, dec_blk_nums=(1, 1), train_size=(1, 3, 16, 16)),
    'Baseline': dict(width=8, enc_blk_nums=(1, 1), middle_blk_num=1, dec_blk_nums=(1, 1), dw_expand=2),
    'BaselineLocal': dict(width=8, enc_blk_nums=(1, 1), middle_blk_num=1, dec_blk_nums=(1, 1),
                          train_size=(1, 3, 16, 16), dw_expand=2),
}


@pytest.fixture(autouse=True)
def _fixed_seed():
    torch.manual_seed(0)
