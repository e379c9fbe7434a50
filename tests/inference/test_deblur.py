"""Deblurring your own images: formats, orientation, tiling, failures, CLI (basicsr_nafnet.inference.deblur)."""
import os
import sys

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata
from torch import nn

from basicsr_nafnet.inference.deblur import collect_inputs, deblur_array, deblur_files, read_photo
from basicsr_nafnet.errors import UserError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'scripts'))
import deblur as deblur_cli  # noqa: E402  (scripts/deblur.py)
from tiny_models import TINY_SPEC, tiny_checkpoint  # noqa: E402


class Brighten(nn.Module):
    """A pointwise stand-in network: y = 0.5 x + 0.25, so the expected output is known exactly."""

    def forward(self, x):
        return 0.5 * x + 0.25


def photo(h=37, w=53):
    return skdata.astronaut()[100:100 + h, 120:120 + w].copy()  # RGB uint8, odd size


def expected(img, dtype=np.uint8):
    scale = 255.0 if dtype == np.uint8 else 65535.0
    return np.clip(np.round((0.5 * (img.astype(np.float32) / scale) + 0.25) * scale), 0, scale).astype(dtype)


def test_formats_are_kept(tmp_path):
    rgb = photo()
    src = tmp_path / 'in'
    src.mkdir()
    cv2.imwrite(str(src / 'gray.png'), rgb[..., 0])
    rgba = np.dstack([cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), np.arange(rgb.size // 3, dtype=np.uint8).reshape(37, 53)])
    cv2.imwrite(str(src / 'rgba.png'), rgba)
    deep = (rgb.astype(np.uint16) * 257 + 3)[..., ::-1]
    cv2.imwrite(str(src / 'deep.tif'), np.ascontiguousarray(deep))
    (src / 'nested').mkdir()
    cv2.imwrite(str(src / 'nested' / 'color.bmp'), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    result = deblur_files(Brighten(), [str(src)], str(tmp_path / 'out'), progress=False)
    assert result.failed == [] and len(result.written) == 4
    out = tmp_path / 'out'
    gray = cv2.imread(str(out / 'gray.png'), cv2.IMREAD_UNCHANGED)
    assert gray.ndim == 2 and np.array_equal(gray, expected(rgb[..., 0]))
    four = cv2.imread(str(out / 'rgba.png'), cv2.IMREAD_UNCHANGED)
    assert four.shape == (37, 53, 4) and np.array_equal(four[..., 3], rgba[..., 3])
    assert np.array_equal(four[..., :3], expected(rgba[..., :3]))
    sixteen = cv2.imread(str(out / 'deep.png'), cv2.IMREAD_UNCHANGED)
    assert sixteen.dtype == np.uint16 and np.array_equal(sixteen, expected(deep, np.uint16))
    assert os.path.isfile(out / 'nested' / 'color.png')
    assert not [f for _, _, files in os.walk(out) for f in files if f.startswith('.')]  # no temporary files


def test_exif_orientation_is_applied(tmp_path):
    rgb = photo(30, 50)
    path = tmp_path / 'rotated.jpg'
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, displayed rotated 90 degrees clockwise
    Image.fromarray(rgb).save(path, exif=exif, quality=95)
    upright, _ = read_photo(str(path))
    assert upright.shape == (50, 30, 3)
    stored = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION),
                          cv2.COLOR_BGR2RGB)
    assert np.array_equal(np.round(upright * 255).astype(np.uint8), np.rot90(stored, -1))


def test_tile_covering_the_image_equals_whole_image(tmp_path):
    net = tiny_checkpoint(tmp_path / 'n.pth')
    rgb = photo().astype(np.float32) / 255
    whole = deblur_array(net, rgb)
    assert np.array_equal(deblur_array(net, rgb, tile=64), whole)
    tiled = deblur_array(net, rgb, tile=24, overlap=8)
    assert tiled.shape == whole.shape and np.abs(tiled - whole).mean() < 0.01
    assert deblur_array(net, rgb, precision='bf16').shape == whole.shape


def test_failures_are_reported_and_inputs_never_overwritten(tmp_path):
    src = tmp_path / 'in'
    src.mkdir()
    cv2.imwrite(str(src / 'good.png'), photo())
    (src / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\nnot really')
    result = deblur_files(Brighten(), [str(src)], str(tmp_path / 'out'), progress=False)
    assert [os.path.basename(p) for p, _ in result.written] == ['good.png']
    assert len(result.failed) == 1 and 'broken.png: cannot decode the image' in result.failed[0][1]

    # writing next to the inputs under the same names is refused before any work, with a suffix it works
    with pytest.raises(UserError, match='would overwrite an input'):
        deblur_files(Brighten(), [str(src / 'good.png')], str(src), progress=False)
    assert np.array_equal(cv2.imread(str(src / 'good.png')), photo())
    ok = deblur_files(Brighten(), [str(src / 'good.png')], str(src), suffix='_deblurred', progress=False)
    assert ok.failed == [] and os.path.isfile(src / 'good_deblurred.png')
    with pytest.raises(UserError, match='no such file or folder'):
        collect_inputs([str(tmp_path / 'absent')])


def test_cli_exit_status(tmp_path, capsys):
    tiny_checkpoint(tmp_path / 'n.pth')
    src = tmp_path / 'in'
    src.mkdir()
    cv2.imwrite(str(src / 'a.jpg'), photo())
    model = f'{TINY_SPEC}@{tmp_path / "n.pth"}'
    assert deblur_cli.main(['-i', str(src), '-o', str(tmp_path / 'out'), '--model', model, '--tile', '32']) == 0
    assert cv2.imread(str(tmp_path / 'out' / 'a.png')).shape == (37, 53, 3)
    (src / 'b.png').write_bytes(b'')
    assert deblur_cli.main(['-i', str(src), '-o', str(tmp_path / 'out'), '--model', model]) == 1
    assert 'failed: ' in capsys.readouterr().err
    assert deblur_cli.main(['-i', str(src), '-o', str(tmp_path / 'o2'), '--model', TINY_SPEC]) == 2
    assert 'needs trained weights' in capsys.readouterr().err


def test_cli_compile_flag_compiles_the_network(tmp_path, monkeypatch):
    compiled = []
    monkeypatch.setattr(torch, 'compile', lambda module, **kw: compiled.append(module) or module)
    tiny_checkpoint(tmp_path / 'n.pth')
    src = tmp_path / 'in'
    src.mkdir()
    cv2.imwrite(str(src / 'a.png'), photo())
    model = f'{TINY_SPEC}@{tmp_path / "n.pth"}'
    assert deblur_cli.main(['-i', str(src), '-o', str(tmp_path / 'out'), '--model', model]) == 0
    assert compiled == []
    assert deblur_cli.main(['-i', str(src), '-o', str(tmp_path / 'out2'), '--model', model, '--compile']) == 0
    assert len(compiled) == 1
    assert np.array_equal(cv2.imread(str(tmp_path / 'out' / 'a.png')), cv2.imread(str(tmp_path / 'out2' / 'a.png')))


def test_output_inside_the_input_is_never_read_back(tmp_path):
    src = tmp_path / 'photos'
    src.mkdir()
    cv2.imwrite(str(src / 'a.png'), photo())
    for _ in range(2):  # the second run must not deblur the first run's output
        result = deblur_files(Brighten(), [str(src)], str(src / 'deblurred'), progress=False)
        assert [os.path.relpath(out, src) for _, out in result.written] == [os.path.join('deblurred', 'a.png')]
    assert sorted(os.listdir(src / 'deblurred')) == ['a.png']
    for _ in range(2):  # beside the inputs with a suffix: earlier outputs are not inputs either
        result = deblur_files(Brighten(), [str(src)], str(src), suffix='_sharp', progress=False)
        assert [os.path.basename(out) for _, out in result.written] == ['a_sharp.png']
    assert sorted(os.listdir(src)) == ['a.png', 'a_sharp.png', 'deblurred']
