"""Published GoPro results, for context rows in the leaderboard (``--published``).

Each number is the one its source reports on the GoPro test set (1111 pairs, RGB PSNR and the
MATLAB-style 3-D SSIM of that line of work), and every row names that one source. They are not
measured here and are marked so in every output; a number no source reachable here confirms is
marked so too. ``params``/``macs`` are left empty because papers count them differently.
"""

__all__ = ['GOPRO_TEST', 'PUBLISHED_GOPRO', 'published_rows']

GOPRO_TEST = 'GoPro test (1111 pairs, 1280x720)'  # the dataset every published row was scored on

NOT_MEASURED = 'published, not measured here'
UNCONFIRMED = 'published, not measured here; NOT CONFIRMED: no source reachable here states it'

_NAFNET_README = 'megvii-research/NAFNet README, GoPro results of the released checkpoints'
# name, PSNR (dB), SSIM (None where the source gives none), source (one each), confirmed from that source
PUBLISHED_GOPRO = (
    ('MIMO-UNet+ (published)', 32.45, 0.957, 'chosj95/MIMO-UNet README (Cho et al., ICCV 2021)', True),
    ('Baseline-width32 (published)', 32.4799, 0.9575, _NAFNET_README, True),
    ('MPRNet (published)', 32.66, 0.959, 'Zamir et al., Multi-Stage Progressive Image Restoration, CVPR 2021 (paper)',
     True),
    ('MAXIM-3S (published)', 32.86, 0.961, 'google-research/maxim README (Tu et al., CVPR 2022)', True),
    ('NAFNet-width32 (published)', 32.8705, 0.9606, _NAFNET_README, True),
    ('Restormer (published)', 32.92, 0.961, 'Zamir et al., Restormer, CVPR 2022 (paper, as later papers quote it)',
     True),
    ('Stripformer (published)', 33.08, 0.962, 'Tsai et al., Stripformer, ECCV 2022 (paper)', True),
    ('Baseline-width64 (published)', 33.3960, 0.9649, _NAFNET_README, True),
    ('NAFNet-width64, paper (published)', 33.69, 0.967,
     'Chen et al., Simple Baselines for Image Restoration, ECCV 2022 (paper)', True),
    ('NAFNet-width64 (published)', 33.7103, 0.9668, _NAFNET_README, True),
    ('GRL-B (published)', 33.93, 0.968,
     'Li et al., Efficient and Explicit Modelling of Image Hierarchies, CVPR 2023 (paper)', True),
    ('UFPNet (published)', 34.06, 0.968,
     'Fang et al., Self-supervised Non-uniform Kernel Estimation with Flow-based Motion Prior, CVPR 2023', False),
    ('FFTformer (published)', 34.21, 0.969,
     'Kong et al., Efficient Frequency Domain-based Transformers for High-Quality Image Deblurring, CVPR 2023 (paper)',
     True),
    ('AdaRevD (published)', 34.60, None, 'AdaRevD, CVPR 2024 (paper abstract, which gives no SSIM)', True),
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
             dataset=GOPRO_TEST,
             source=source,
             note=NOT_MEASURED if confirmed else UNCONFIRMED)
        for name, psnr, ssim, source, confirmed in PUBLISHED_GOPRO
    ]
    return sorted(rows, key=lambda r: r['psnr'])
