"""Every registered arch: shapes on odd sizes, gradients, determinism, autocast, official key layout."""
import copy

import pytest
import torch
from basicsr.archs import build_network
from basicsr.models.base_model import BaseModel
from basicsr.utils.registry import ARCH_REGISTRY
from tiny_models import TINY_ARCH_CONFIGS

OUR_ARCHS = sorted(name for name, obj in ARCH_REGISTRY if obj.__module__.startswith('basicsr_nafnet.'))


def build(name, **overrides):
    return build_network({'type': name, **TINY_ARCH_CONFIGS[name], **overrides})


def randomize_(net):
    """Give every parameter random values: beta/gamma start at zero and would hide whole branches."""
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    return net


def test_every_arch_is_covered():
    assert set(OUR_ARCHS) == {'ResidualCNN', 'DeblurUNet', 'NAFNet', 'NAFNetLocal', 'Baseline', 'BaselineLocal'}
    assert set(TINY_ARCH_CONFIGS) == set(OUR_ARCHS)


@pytest.mark.parametrize('name', OUR_ARCHS)
@pytest.mark.parametrize('shape', [(1, 3, 37, 53), (2, 3, 64, 64)])
def test_forward_keeps_shape(name, shape):
    net = build(name).eval()
    x = torch.rand(shape)
    with torch.no_grad():
        out = net(x)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()


@pytest.mark.parametrize('name', OUR_ARCHS)
def test_backward_reaches_every_parameter(name):
    net = randomize_(build(name)).train()
    x = torch.rand(2, 3, 37, 53)
    net(x).square().mean().backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize('name', OUR_ARCHS)
def test_deterministic_with_fixed_seed(name):
    outs = []
    x = torch.rand(1, 3, 37, 53)
    for _ in range(2):
        torch.manual_seed(123)
        net = randomize_(build(name)).eval()
        with torch.no_grad():
            outs.append(net(x))
    assert torch.equal(outs[0], outs[1])


@pytest.mark.parametrize('name', OUR_ARCHS)
def test_runs_under_bf16_autocast(name):
    net = randomize_(build(name)).eval()
    x = torch.rand(1, 3, 37, 53)
    with torch.no_grad():
        ref = net(x)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out = net(x)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    # bf16 has 8 bits of mantissa: loose agreement, but the same picture
    assert (out.float() - ref).abs().mean() < 0.05 * ref.abs().mean() + 0.05


def test_residual_cnn_is_identity_plus_residual():
    net = build('ResidualCNN').eval()
    with torch.no_grad():
        net.body[-1].weight.zero_()
        net.body[-1].bias.zero_()
        x = torch.rand(1, 3, 9, 11)
        assert torch.equal(net(x), x)
    with pytest.raises(ValueError, match='num_in_ch'):
        build('ResidualCNN', num_out_ch=1)


@pytest.mark.parametrize('options', [
    dict(down='avgpool', up='deconv', skip='add', block='plain'),
    dict(down='maxpool', up='bilinear', skip='concat'),
    dict(enc_blk_nums=(1, 1, 1), dec_blk_nums=(2, 1, 1), middle_blk_num=0),
])
def test_deblur_unet_is_modular(options):
    net = build('DeblurUNet', **options).eval()
    x = torch.rand(1, 3, 21, 30)
    with torch.no_grad():
        assert net(x).shape == x.shape


def test_unet_rejects_mismatched_levels_and_unknown_blocks():
    with pytest.raises(ValueError, match='same length'):
        build('NAFNet', enc_blk_nums=(1, 1), dec_blk_nums=(1, ))
    with pytest.raises(ValueError, match='pixelshuffle'):
        build('DeblurUNet', up='nearest')


# The official NAFNet release's names, written out for one block of each kind.
NAFBLOCK_KEYS = [
    'conv1.weight', 'conv1.bias', 'conv2.weight', 'conv2.bias', 'conv3.weight', 'conv3.bias', 'sca.1.weight',
    'sca.1.bias', 'conv4.weight', 'conv4.bias', 'conv5.weight', 'conv5.bias', 'norm1.weight', 'norm1.bias',
    'norm2.weight', 'norm2.bias', 'beta', 'gamma'
]
BASELINEBLOCK_KEYS = [
    'conv1.weight', 'conv1.bias', 'conv2.weight', 'conv2.bias', 'conv3.weight', 'conv3.bias', 'se.1.weight',
    'se.1.bias', 'se.3.weight', 'se.3.bias', 'conv4.weight', 'conv4.bias', 'conv5.weight', 'conv5.bias',
    'norm1.weight', 'norm1.bias', 'norm2.weight', 'norm2.bias', 'beta', 'gamma'
]
# width 4, enc [1, 2], middle 1, dec [1, 1]
SKELETON_KEYS = ['intro.weight', 'intro.bias', 'downs.0.weight', 'downs.0.bias', 'downs.1.weight', 'downs.1.bias',
                 'ups.0.0.weight', 'ups.1.0.weight', 'ending.weight', 'ending.bias']
BLOCK_PREFIXES = ['encoders.0.0.', 'encoders.1.0.', 'encoders.1.1.', 'middle_blks.0.', 'decoders.0.0.', 'decoders.1.0.']


@pytest.mark.parametrize('name,block_keys', [('NAFNet', NAFBLOCK_KEYS), ('NAFNetLocal', NAFBLOCK_KEYS),
                                             ('Baseline', BASELINEBLOCK_KEYS), ('BaselineLocal', BASELINEBLOCK_KEYS)])
def test_state_dict_keys_match_official_layout(name, block_keys):
    net = build(name, width=4, enc_blk_nums=(1, 2), middle_blk_num=1, dec_blk_nums=(1, 1))
    expected = set(SKELETON_KEYS) | {prefix + key for prefix in BLOCK_PREFIXES for key in block_keys}
    assert set(net.state_dict()) == expected


def test_official_shapes_of_nafnet():
    sd = build('NAFNet', width=4, enc_blk_nums=(1, 2), middle_blk_num=1, dec_blk_nums=(1, 1)).state_dict()
    assert sd['downs.0.weight'].shape == (8, 4, 2, 2)  # 2x2 stride-2 conv doubling channels
    assert sd['ups.0.0.weight'].shape == (32, 16, 1, 1)  # 1x1 conv to 2c before PixelShuffle(2)
    assert sd['encoders.0.0.conv1.weight'].shape == (8, 4, 1, 1)  # c -> 2c
    assert sd['encoders.0.0.conv2.weight'].shape == (8, 1, 3, 3)  # depth-wise
    assert sd['encoders.0.0.conv3.weight'].shape == (4, 4, 1, 1)  # after SimpleGate: c -> c
    assert sd['encoders.0.0.sca.1.weight'].shape == (4, 4, 1, 1)
    assert sd['encoders.0.0.beta'].shape == (1, 4, 1, 1)
    assert not sd['encoders.0.0.beta'].any() and not sd['encoders.0.0.gamma'].any()


@pytest.mark.parametrize('width,params_m', [(32, 17.112), (64, 67.889)])
def test_gopro_configs_have_the_published_size(width, params_m):
    # The example, built through BasicSR; sizes as measured for the official release (FACTS.md).
    net = build_network({'type': 'NAFNet', 'width': width, 'enc_blk_nums': [1, 1, 1, 28], 'middle_blk_num': 1,
                         'dec_blk_nums': [1, 1, 1, 1]})
    assert round(sum(p.numel() for p in net.parameters()) / 1e6, 3) == params_m


# Our own network saved as {'params': ...} and loaded back: a round trip, blind to any divergence from the
# official layout (tests/archs/test_official_layout.py checks that against an independently written layout).
@pytest.mark.parametrize('name', ['NAFNet', 'Baseline', 'NAFNetLocal'])
def test_checkpoint_round_trips_strictly_through_basicsr_load_network(name, tmp_path):
    src = randomize_(build(name))
    path = tmp_path / 'net_g.pth'
    torch.save({'params': src.state_dict()}, path)
    dst = build(name)
    BaseModel({'num_gpu': 0, 'is_train': False}).load_network(dst, str(path), strict=True, param_key='params')
    for key, value in src.state_dict().items():
        assert torch.equal(dst.state_dict()[key], value), key


@pytest.mark.parametrize('plain,local', [('NAFNet', 'NAFNetLocal'), ('Baseline', 'BaselineLocal')])
def test_local_variant_equals_plain_within_window_and_differs_beyond(plain, local):
    # train_size 16 -> window 24 at full resolution: inputs up to 24x24 pool globally
    net = randomize_(build(plain)).eval()
    local_net = build(local)
    local_net.load_state_dict(net.state_dict(), strict=True)
    local_net.eval()
    with torch.no_grad():
        small = torch.rand(2, 3, 24, 21)
        assert torch.equal(local_net(small), net(small))
        large = torch.rand(1, 3, 64, 80)
        assert (local_net(large) - net(large)).abs().max() > 1e-4


def test_local_windows_follow_the_level():
    net = build('NAFNetLocal', train_size=(1, 3, 256, 256))
    windows = {name: m.window for name, m in net.named_modules() if type(m).__name__ == 'LocalAvgPool2d'}
    assert windows['encoders.0.0.sca.0'] == (384, 384)  # 1.5 x 256 at full resolution
    assert windows['encoders.1.0.sca.0'] == (192, 192)
    assert windows['middle_blks.0.sca.0'] == (96, 96)
    assert windows['decoders.0.0.sca.0'] == (192, 192)  # first decoder sits one level up
    assert windows['decoders.1.0.sca.0'] == (384, 384)
    assert len(windows) == 5


@pytest.mark.parametrize('memory_format', [torch.contiguous_format, torch.channels_last])
def test_local_pooling_matches_a_direct_window_mean(memory_format):
    from basicsr_nafnet.archs.tlc import LocalAvgPool2d
    x = torch.rand(2, 3, 13, 17, dtype=torch.float64).contiguous(memory_format=memory_format)
    kh, kw = 5, 6
    out = LocalAvgPool2d((kh, kw))(x)
    direct = torch.nn.functional.avg_pool2d(x, (kh, kw), stride=1)  # valid positions, 9 x 12
    assert out.shape == x.shape
    # valid means sit centred; the border replicates the nearest valid mean
    top, left = (13 - 9) // 2, (17 - 12) // 2
    assert torch.allclose(out[..., top:top + 9, left:left + 12], direct, atol=1e-12)
    assert torch.equal(out[..., 0, left:left + 12], out[..., top, left:left + 12])
    fast = LocalAvgPool2d((16, 16), fast_imp=True)(torch.rand(1, 2, 40, 40))
    assert fast.shape == (1, 2, 40, 40)


def test_local_pooling_is_accurate_in_float32_on_a_full_frame():
    from basicsr_nafnet.archs.tlc import LocalAvgPool2d
    # a GoPro-sized map with a large bright region (running sums grow fastest there) and fine texture
    torch.manual_seed(0)
    x = torch.rand(1, 2, 720, 1280) * 0.2
    x[..., 100:600, :700] += 0.8
    pool = LocalAvgPool2d((384, 384))
    exact = pool(x.double())
    assert (pool(x).double() - exact).abs().max() < 1e-6
    assert (pool(x.contiguous(memory_format=torch.channels_last)).double() - exact).abs().max() < 1e-6
    # spot-check the float64 path against a direct window mean
    top, left = (720 - 337) // 2 + 7, (1280 - 897) // 2 + 11  # 337 x 897 valid means, centred
    direct = x.double()[..., 7:7 + 384, 11:11 + 384].mean((-2, -1))
    assert torch.allclose(exact[..., top, left], direct, atol=1e-12)


def test_build_does_not_mutate_options():
    opt = {'type': 'NAFNet', **TINY_ARCH_CONFIGS['NAFNet']}
    before = copy.deepcopy(opt)
    build_network(opt)
    assert opt == before


# ------------------------------------------------------------------------ DeblurUNet: norm, act, attention, residual


def _old_deblur_unet(width=8, enc=(1, 1), middle=1, dec=(1, 1)):
    """DeblurUNet as it was before norm/act/attention existed: blocks of conv3x3, ReLU, conv3x3 (+ x), concat skips."""
    from torch import nn

    from basicsr_nafnet.archs.arch_util import UNetSkeleton

    class OldBlock(nn.Module):

        def __init__(self, c):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1), nn.ReLU(inplace=True), nn.Conv2d(c, c, 3, 1, 1))

        def forward(self, x):
            return x + self.body(x)

    return UNetSkeleton(OldBlock, 3, width, middle, enc, dec, 'conv', 'pixelshuffle', 'concat')


def test_deblur_unet_defaults_keep_keys_shapes_and_weights():
    torch.manual_seed(7)
    new = build_network({'type': 'DeblurUNet', 'width': 8, 'enc_blk_nums': [1, 1], 'dec_blk_nums': [1, 1]})
    torch.manual_seed(7)
    old = _old_deblur_unet()
    new_sd, old_sd = new.state_dict(), old.state_dict()
    assert list(new_sd) == list(old_sd)
    assert 'encoders.0.0.body.0.weight' in new_sd and 'encoders.0.0.body.2.weight' in new_sd
    for key in old_sd:
        assert torch.equal(new_sd[key], old_sd[key]), key  # same modules created in the same order
    x = torch.rand(1, 3, 20, 28)
    with torch.no_grad():
        assert torch.equal(new(x), old(x))


def _count(net, kind):
    return sum(isinstance(m, kind) for m in net.modules())


UNET = dict(width=8, enc_blk_nums=[1, 1], middle_blk_num=1, dec_blk_nums=[1, 1])
BLOCKS = 5  # 2 encoder + 1 middle + 2 decoder blocks in UNET


@pytest.mark.parametrize('norm,present,absent', [('none', None, ('BatchNorm2d', 'LayerNorm2d')),
                                                 ('batch', 'BatchNorm2d', ('LayerNorm2d', )),
                                                 ('layer', 'LayerNorm2d', ('BatchNorm2d', ))])
def test_deblur_unet_norm_builds_that_norm(norm, present, absent):
    from torch import nn

    from basicsr_nafnet.archs.arch_util import LayerNorm2d
    kinds = {'BatchNorm2d': nn.BatchNorm2d, 'LayerNorm2d': LayerNorm2d}
    net = build_network({'type': 'DeblurUNet', **UNET, 'norm': norm})
    if present:
        assert _count(net, kinds[present]) == 2 * BLOCKS  # after each of the two convs of every block
        assert isinstance(net.encoders[0][0].body[1], kinds[present])  # conv -> norm -> act
    for kind in absent:
        assert _count(net, kinds[kind]) == 0


@pytest.mark.parametrize('act,relus,gelus', [('relu', 2 * BLOCKS, 0), ('gelu', 0, 2 * BLOCKS), ('none', 0, 0)])
def test_deblur_unet_act_builds_that_activation(act, relus, gelus):
    from torch import nn
    net = build_network({'type': 'DeblurUNet', **UNET, 'act': act})  # inside the body and after it (plain blocks)
    assert _count(net, nn.ReLU) == relus and _count(net, nn.GELU) == gelus
    if act == 'none':  # nothing nonlinear between the convs
        assert all([type(m).__name__ for m in stage[0].body] == ['Conv2d', 'Identity', 'Conv2d']
                   for _, stage in net.stages_by_level())


def test_deblur_unet_attention_builds_se_or_sca():
    from torch import nn

    from basicsr_nafnet.archs.arch_util import ChannelAttention
    plain = build_network({'type': 'DeblurUNet', **UNET})
    assert _count(plain, ChannelAttention) == 0 and _count(plain, nn.AdaptiveAvgPool2d) == 0
    ca = build_network({'type': 'DeblurUNet', **UNET, 'attention': 'ca'})
    sca = build_network({'type': 'DeblurUNet', **UNET, 'attention': 'sca'})
    assert _count(ca, ChannelAttention) == _count(sca, ChannelAttention) == BLOCKS
    block_ca, block_sca = ca.encoders[1][0], sca.encoders[1][0]  # 16 channels at level 1
    assert [type(m).__name__ for m in block_ca.body] == ['Conv2d', 'ReLU', 'ChannelAttention', 'Conv2d']
    # squeeze-and-excitation as the paper's Baseline: pool, squeeze by 2, ReLU, expand, Sigmoid
    assert [type(m).__name__ for m in block_ca.body[2].scale] == ['AdaptiveAvgPool2d', 'Conv2d', 'ReLU', 'Conv2d',
                                                                  'Sigmoid']
    assert block_ca.body[2].scale[1].weight.shape == (8, 16, 1, 1)
    # NAFNet's simplified form: pool and one 1x1 conv, no nonlinearity
    assert [type(m).__name__ for m in block_sca.body[2].scale] == ['AdaptiveAvgPool2d', 'Conv2d']
    assert block_sca.body[2].scale[1].weight.shape == (16, 16, 1, 1)
    with torch.no_grad():  # the attention really scales the features: a constant map scales by conv(mean)
        x = torch.full((1, 16, 4, 4), 2.0)
        conv = block_sca.body[2].scale[1]
        expected = 2.0 * (conv.weight[:, :, 0, 0] @ torch.full((16, ), 2.0) + conv.bias)
        assert torch.allclose(block_sca.body[2](x)[0, :, 0, 0], expected, atol=1e-5)


def test_deblur_unet_global_residual_switch():
    x = torch.rand(1, 3, 20, 28)
    for residual in (True, False):
        net = build_network({'type': 'DeblurUNet', **UNET, 'global_residual': residual}).eval()
        with torch.no_grad():
            net.ending.weight.zero_()
            net.ending.bias.fill_(0.25)
            out = net(x)
        assert torch.equal(out, x + 0.25) if residual else torch.equal(out, torch.full_like(x, 0.25))


@pytest.mark.parametrize('key,value,text', [('norm', 'group', "unknown norm 'group'"),
                                            ('act', 'swish', "unknown act 'swish'"),
                                            ('attention', 'cbam', "unknown attention 'cbam'"),
                                            ('global_residual', 'no', 'global_residual must be true or false')])
def test_deblur_unet_rejects_unknown_options(key, value, text):
    with pytest.raises(ValueError, match=text):
        build_network({'type': 'DeblurUNet', **UNET, key: value})
