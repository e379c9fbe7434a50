"""Published GoPro results, for context rows in the leaderboard (``--published``).

Each number is the one the paper reports on the GoPro test set (1111 pairs, RGB PSNR and the
MATLAB-style 3-D SSIM of that line of work). They are not measured here and are marked so in every
output; ``params``/``macs`` are left empty because papers count them differently.
"""

__all__ = ['PUBLISHED_GOPRO', 'published_rows']

NOT_MEASURED = 'published, not measured here'

# name, PSNR (dB), SSIM, source
PUBLISHED_GOPRO = (
    ('MPRNet (published)', 32.66, 0.959, 'Zamir et al., Multi-Stage Progressive Image Restoration, CVPR 2021'),
    ('Restormer (published)', 32.92, 0.961, 'Zamir et al., Restormer, CVPR 2022'),
    ('NAFNet-width32 (published)', 32.87, 0.961,
     'Chen et al., Simple Baselines for Image Restoration, ECCV 2022 (megvii-research/NAFNet)'),
    ('NAFNet-width64 (published)', 33.69, 0.967,
     'Chen et al., Simple Baselines for Image Restoration, ECCV 2022 (megvii-research/NAFNet)'),
    ('GRL-B (published)', 33.93, 0.968, 'Li et al., Efficient and Explicit Modelling of Image Hierarchies, CVPR 2023'),
    ('UFPNet (published)', 34.06, 0.968,
     'Fang et al., Self-supervised Non-uniform Kernel Estimation with Flow-based Motion Prior, CVPR 2023'),
    ('FFTformer (published)', 34.21, 0.969,
     'Kong et al., Efficient Frequency Domain-based Transformers for High-Quality Image Deblurring, CVPR 2023'),
)


def published_rows():
    """Leaderboard rows (dicts) for :data:`PUBLISHED_GOPRO`, sorted by PSNR."""
    rows = [
        dict(name=name,
             variant='published',
             psnr=psnr,
             ssim=ssim,
             ssim_2d=None,
             params=None,
             macs=None,
             runtime_s=None,
             peak_mem_mb=None,
             device=None,
             images=1111,
             source=source,
             note=NOT_MEASURED) for name, psnr, ssim, source in PUBLISHED_GOPRO
    ]
    return sorted(rows, key=lambda r: r['psnr'])
