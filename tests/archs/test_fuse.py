"""Deploy-mode fusion: fused nets compute what the unfused ones compute, and refuse training."""
import pytest
import torch
from basicsr.archs import build_network
from tiny_models import TINY_ARCH_CONFIGS

from basicsr_nafnet.archs.fusion import FusedNetwork, InferenceOnlyError, normalize_channels

FUSABLE = ['NAFNet', 'NAFNetLocal', 'Baseline', 'BaselineLocal']
TOL = 1e-4


def build_random(name, **overrides):
    """A tiny arch with every parameter random: beta/gamma (zero) and norm affines (one/zero) included."""
    net = build_network({'type': name, **TINY_ARCH_CONFIGS[name], **overrides})
    with torch.no_grad():
        for pname, p in net.named_parameters():
            if pname.endswith(('beta', 'gamma')) or '.norm' in pname:
                p.copy_(torch.randn_like(p))  # large: a folding mistake must show
            else:
                p.copy_(torch.randn_like(p) * 0.2)
    return net.eval()


def max_diff(a, b):
    return (a - b).abs().max().item()


@pytest.mark.parametrize('name', FUSABLE)
@pytest.mark.parametrize('shape', [(1, 3, 37, 53), (2, 3, 48, 64)])
def test_fused_matches_unfused(name, shape):
    # 37x53 and 48x64 are larger than the Local variants' 24-pixel window (1.5 x train_size 16): TLC is active
    net = build_random(name)
    fused = net.fuse()
    x = torch.rand(shape)
    with torch.no_grad():
        ref = net(x)
        out = fused(x)
        out_cl = fused(x.contiguous(memory_format=torch.channels_last))
    assert out.shape == ref.shape
    assert ref.abs().max() > 0.5  # the branches are not silent
    assert max_diff(out, ref) <= TOL
    assert max_diff(out_cl, ref) <= TOL


@pytest.mark.parametrize('name', ['NAFNetLocal', 'BaselineLocal'])
def test_fused_local_fast_imp_matches(name):
    net = build_random(name, fast_imp=True)
    x = torch.rand(1, 3, 64, 72)
    with torch.no_grad():
        assert max_diff(net.fuse()(x), net(x)) <= TOL


def test_fused_matches_with_dropout_and_training_source():
    net = build_random('NAFNet', drop_out_rate=0.5).train()  # fuse() must not copy the training mode
    fused = net.fuse()
    x = torch.rand(1, 3, 32, 40)
    with torch.no_grad():
        out = fused(x)
        ref = net.eval()(x)
    assert max_diff(out, ref) <= TOL


@pytest.mark.parametrize('name', FUSABLE)
def test_fuse_leaves_the_original_untouched(name):
    net = build_random(name).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    fused = net.fuse()
    assert net.training
    assert all(p.requires_grad for p in net.parameters())
    after = net.state_dict()
    assert list(after) == list(before)
    assert all(torch.equal(before[k], after[k]) for k in before)
    # the folded parameters are gone from the fused net, the rest does not require grad
    fused_keys = list(fused.state_dict())
    assert isinstance(fused, FusedNetwork)
    assert not [k for k in fused_keys if k.endswith(('beta', 'gamma')) or '.norm' in k]
    assert not any(p.requires_grad for p in fused.parameters())


@pytest.mark.parametrize('name', FUSABLE)
def test_fused_refuses_training(name):
    fused = build_random(name).fuse()
    with pytest.raises(InferenceOnlyError, match='inference-only'):
        fused.train()
    with pytest.raises(InferenceOnlyError, match='inference-only'):
        fused.body.encoders[0][0].train()
    assert fused.eval() is fused  # eval stays allowed
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    with pytest.raises(InferenceOnlyError, match='cannot be trained'):
        fused(x).mean().backward()
    with pytest.raises(InferenceOnlyError, match='cannot be trained'):
        fused(torch.rand(1, 3, 16, 16)).mean().backward()


def test_fuse_rejects_other_blocks():
    from basicsr_nafnet.archs.fusion import fuse_unet
    net = build_network({'type': 'DeblurUNet', **TINY_ARCH_CONFIGS['DeblurUNet']})
    with pytest.raises(TypeError, match='fuse'):
        fuse_unet(net)


@pytest.mark.parametrize('channels_last', [False, True])
def test_normalize_channels_matches_layernorm2d(channels_last):
    from basicsr_nafnet.archs.arch_util import LayerNorm2d
    x = torch.randn(2, 6, 5, 7) * 3 + 1
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        ref = LayerNorm2d(6)(x)
    out = normalize_channels(x, 1e-6)
    assert max_diff(out, ref) <= 1e-5
    assert out.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
