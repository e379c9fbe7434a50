"""Our NAFNet/Baseline against the official NAFNet release's layout, written out here independently.

The expected state-dict keys and shapes come from the released configurations' numbers alone (the
official repository's arch definitions, DESIGN.md's "Official NAFNet state-dict layout"), never from
our modules, so a renamed or reshaped parameter in our archs fails here even though our own
save-and-reload round trip still works. One block of each kind is also checked against its formulas
written out by hand, and official-format checkpoints load strictly through our checkpoint path.
"""
import math
from pathlib import Path

import pytest
import torch
import yaml
from basicsr.archs import build_network

from basicsr_nafnet.archs.baseline_arch import BaselineBlock
from basicsr_nafnet.archs.nafnet_arch import NAFBlock
from basicsr_nafnet.inference.spec import build_model, parse_model_spec

REPO = Path(__file__).resolve().parents[2]

GOPRO_BLOCKS = {'enc_blk_nums': [1, 1, 1, 28], 'middle_blk_num': 1, 'dec_blk_nums': [1, 1, 1, 1]}
# The released deblurring models: (block kind, network_g numbers of the official test option file,
# this repo's option file with the same network or None).
RELEASED = {
    'NAFNet-GoPro-width32': ('NAFNet', {'width': 32, **GOPRO_BLOCKS}, 'options/test/GoPro/NAFNet-width32.yml'),
    'NAFNet-GoPro-width64': ('NAFNet', {'width': 64, **GOPRO_BLOCKS}, 'options/test/GoPro/NAFNet-width64.yml'),
    'Baseline-GoPro-width32': ('Baseline', {'width': 32, **GOPRO_BLOCKS, 'dw_expand': 1, 'ffn_expand': 2},
                               'options/test/GoPro/Baseline-width32.yml'),
    'Baseline-GoPro-width64': ('Baseline', {'width': 64, **GOPRO_BLOCKS, 'dw_expand': 2, 'ffn_expand': 2},
                               'options/test/GoPro/Baseline-width64.yml'),
    'NAFNet-REDS-width64': ('NAFNet', {'width': 64, **GOPRO_BLOCKS}, None),
}
CASES = [(config, kind + local) for config, (kind, _, _) in RELEASED.items() for local in ('', 'Local')]
CASE_IDS = [f'{config}-{arch}' for config, arch in CASES]


# ----------------------------------------------------------------------------- the expected layout

def _conv(layout, name, c_in, c_out, k, groups=1, bias=True):
    layout[f'{name}.weight'] = (c_out, c_in // groups, k, k)
    if bias:
        layout[f'{name}.bias'] = (c_out, )


def _nafblock(layout, p, c):
    # DW_Expand = FFN_Expand = 2; SimpleGate halves the channels before conv3, sca and conv5
    _conv(layout, p + 'conv1', c, 2 * c, 1)
    _conv(layout, p + 'conv2', 2 * c, 2 * c, 3, groups=2 * c)
    _conv(layout, p + 'conv3', c, c, 1)
    _conv(layout, p + 'sca.1', c, c, 1)  # sca.0 is the (parameter-free) global average pooling
    _conv(layout, p + 'conv4', c, 2 * c, 1)
    _conv(layout, p + 'conv5', c, c, 1)


def _baselineblock(layout, p, c, dw_expand, ffn_expand):
    dw, ffn = c * dw_expand, c * ffn_expand
    _conv(layout, p + 'conv1', c, dw, 1)
    _conv(layout, p + 'conv2', dw, dw, 3, groups=dw)
    _conv(layout, p + 'conv3', dw, c, 1)
    _conv(layout, p + 'se.1', dw, dw // 2, 1)  # se: pool, conv, ReLU, conv, Sigmoid
    _conv(layout, p + 'se.3', dw // 2, dw, 1)
    _conv(layout, p + 'conv4', c, ffn, 1)
    _conv(layout, p + 'conv5', ffn, c, 1)


def official_layout(kind, width, enc_blk_nums, middle_blk_num, dec_blk_nums, img_channel=3, dw_expand=1,
                    ffn_expand=2):
    """Every key of the official release's state dict with its shape, for one configuration."""
    layout = {}

    def block(prefix, c):
        if kind == 'NAFNet':
            _nafblock(layout, prefix, c)
        else:
            _baselineblock(layout, prefix, c, dw_expand, ffn_expand)
        for norm in ('norm1', 'norm2'):
            layout[f'{prefix}{norm}.weight'] = layout[f'{prefix}{norm}.bias'] = (c, )
        layout[prefix + 'beta'] = layout[prefix + 'gamma'] = (1, c, 1, 1)

    _conv(layout, 'intro', img_channel, width, 3)
    chan = width
    for i, num in enumerate(enc_blk_nums):
        for j in range(num):
            block(f'encoders.{i}.{j}.', chan)
        _conv(layout, f'downs.{i}', chan, 2 * chan, 2)  # 2x2, stride 2
        chan *= 2
    for j in range(middle_blk_num):
        block(f'middle_blks.{j}.', chan)
    for i, num in enumerate(dec_blk_nums):
        _conv(layout, f'ups.{i}.0', chan, 2 * chan, 1, bias=False)  # then PixelShuffle(2): 2*chan -> chan/2
        chan //= 2
        for j in range(num):
            block(f'decoders.{i}.{j}.', chan)
    _conv(layout, 'ending', width, img_channel, 3)
    return layout


def test_expected_layout_has_the_published_parameter_counts():
    # the hand-written layout itself against the sizes measured for the official release (FACTS.md)
    for config, params_m in [('NAFNet-GoPro-width32', 17.112), ('NAFNet-GoPro-width64', 67.889)]:
        kind, numbers, _ = RELEASED[config]
        total = sum(math.prod(shape) for shape in official_layout(kind, **numbers).values())
        assert round(total / 1e6, 3) == params_m, config


def test_expected_layout_of_a_tiny_nafnet_written_out():
    layout = official_layout('NAFNet', width=2, enc_blk_nums=[1], middle_blk_num=1, dec_blk_nums=[1])
    assert layout['intro.weight'] == (2, 3, 3, 3)
    assert layout['downs.0.weight'] == (4, 2, 2, 2)
    assert layout['middle_blks.0.conv2.weight'] == (8, 1, 3, 3)
    assert layout['ups.0.0.weight'] == (8, 4, 1, 1) and 'ups.0.0.bias' not in layout
    assert layout['decoders.0.0.conv5.weight'] == (2, 2, 1, 1)
    assert layout['ending.weight'] == (3, 2, 3, 3)
    assert len(layout) == 2 + 2 + 1 + 2 + 3 * 18  # intro, downs, ups (no bias), ending; three blocks of 18 tensors


# ----------------------------------------------------------------------------- our networks against it

@pytest.mark.parametrize('config', [c for c, (_, _, path) in RELEASED.items() if path])
def test_our_option_files_carry_the_released_numbers(config):
    kind, numbers, path = RELEASED[config]
    network = yaml.safe_load((REPO / path).read_text())['network_g']
    assert network.pop('type') == kind + 'Local'  # the published numbers are TLC's
    assert network == numbers


@pytest.mark.parametrize('config,arch', CASES, ids=CASE_IDS)
def test_state_dict_matches_the_official_layout(config, arch):
    kind, numbers, _ = RELEASED[config]
    expected = official_layout(kind, **numbers)
    with torch.device('meta'):  # no memory for the weights, so width 64 costs nothing
        net = build_network({'type': arch, **numbers})
    ours = {key: tuple(value.shape) for key, value in net.state_dict().items()}
    assert sorted(set(ours) - set(expected)) == [], 'keys the official release does not have'
    assert sorted(set(expected) - set(ours)) == [], 'official keys we lack'
    wrong = {key: (ours[key], shape) for key, shape in expected.items() if ours[key] != shape}
    assert wrong == {}, 'shapes (ours, official)'


@pytest.mark.parametrize('config,arch', [case for case in CASES if 'width32' in case[0]],
                         ids=[i for i in CASE_IDS if 'width32' in i])
def test_official_format_checkpoint_loads_strictly_through_build_model(config, arch, tmp_path):
    kind, numbers, _ = RELEASED[config]
    generator = torch.Generator().manual_seed(0)
    state = {key: torch.randn(shape, generator=generator) for key, shape in official_layout(kind, **numbers).items()}
    path = tmp_path / f'{config}.pth'
    torch.save({'params': state}, path)  # as the release stores its weights
    args = ','.join(f'{name}={value}' for name, value in numbers.items()).replace(' ', '')
    spec = parse_model_spec(f'{arch}:{args}@{path}')
    assert spec.strict
    net = build_model(spec)
    loaded = net.state_dict()
    assert set(loaded) == set(state)
    assert all(torch.equal(loaded[key], value) for key, value in state.items())


# ----------------------------------------------------------------------------- one block by hand

def _layer_norm(x, weight, bias, eps=1e-6):
    """LayerNorm2d: normalise the channels of every pixel (biased variance), then a per-channel affine."""
    mean = x.mean(1, keepdim=True)
    var = ((x - mean)**2).mean(1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)


def _pointwise(x, conv):
    return torch.einsum('oc,nchw->nohw', conv.weight[:, :, 0, 0], x) + conv.bias.view(1, -1, 1, 1)


def _depthwise3x3(x, conv):
    """Cross-correlation of each channel with its own 3x3 kernel, zero padding of 1, plus the bias."""
    n, c, h, w = x.shape
    padded = torch.zeros(n, c, h + 2, w + 2, dtype=x.dtype)
    padded[:, :, 1:-1, 1:-1] = x
    out = conv.bias.view(1, -1, 1, 1).expand(n, c, h, w).clone()
    for dy in range(3):
        for dx in range(3):
            out += conv.weight[:, 0, dy, dx].view(1, -1, 1, 1) * padded[:, :, dy:dy + h, dx:dx + w]
    return out


def _simple_gate(x):
    half = x.shape[1] // 2
    return x[:, :half] * x[:, half:]


def _gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def _global_mean(x):
    return x.mean((2, 3), keepdim=True)


def nafblock_by_hand(b, x):
    t = _simple_gate(_depthwise3x3(_pointwise(_layer_norm(x, b.norm1.weight, b.norm1.bias), b.conv1), b.conv2))
    t = t * _pointwise(_global_mean(t), b.sca[1])  # simplified channel attention
    y = x + b.beta * _pointwise(t, b.conv3)
    t = _simple_gate(_pointwise(_layer_norm(y, b.norm2.weight, b.norm2.bias), b.conv4))
    return y + b.gamma * _pointwise(t, b.conv5)


def baselineblock_by_hand(b, x):
    t = _gelu(_depthwise3x3(_pointwise(_layer_norm(x, b.norm1.weight, b.norm1.bias), b.conv1), b.conv2))
    squeezed = _pointwise(_global_mean(t), b.se[1]).clamp(min=0)  # ReLU
    t = t * (1 / (1 + torch.exp(-_pointwise(squeezed, b.se[3]))))  # Sigmoid
    y = x + b.beta * _pointwise(t, b.conv3)
    t = _gelu(_pointwise(_layer_norm(y, b.norm2.weight, b.norm2.bias), b.conv4))
    return y + b.gamma * _pointwise(t, b.conv5)


def _randomised(block):
    """float64, every parameter random: beta and gamma start at zero and would hide both branches."""
    block = block.double().eval()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64))
    return block


@pytest.mark.parametrize('c,size', [(2, (3, 3)), (4, (3, 4))], ids=['c2-3x3', 'c4-3x4'])
def test_nafblock_computes_its_formulas(c, size):
    block = _randomised(NAFBlock(c))
    x = torch.randn(2, c, *size, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    with torch.no_grad():
        expected, ours = nafblock_by_hand(block, x), block(x)
    assert expected.abs().max() > 1e-2  # a real output, not a branch multiplied away
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize('dw_expand,ffn_expand', [(1, 2), (2, 3)], ids=['dw1-ffn2', 'dw2-ffn3'])
def test_baselineblock_computes_its_formulas(dw_expand, ffn_expand):
    block = _randomised(BaselineBlock(4, dw_expand=dw_expand, ffn_expand=ffn_expand))
    x = torch.randn(2, 4, 3, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    with torch.no_grad():
        expected, ours = baselineblock_by_hand(block, x), block(x)
    assert expected.abs().max() > 1e-2
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-10)
