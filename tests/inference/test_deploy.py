"""prepare_for_inference: float32 NCHW in and out, exact by default, bf16 within its tolerance."""
import pytest
import torch
from basicsr.archs import build_network
from tiny_models import TINY_ARCH_CONFIGS

from basicsr_nafnet.inference import InferenceRunner, prepare_for_inference


def build_random(name, scale=0.2):
    net = build_network({'type': name, **TINY_ARCH_CONFIGS[name]})
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * scale)  # around the default init: beta/gamma no longer zero
    return net.eval()


def eager(net, x):
    with torch.no_grad():
        return net(x)


@pytest.mark.parametrize('name', sorted(TINY_ARCH_CONFIGS))
def test_default_path_matches_eager(name):
    net = build_random(name)
    x = torch.rand(2, 3, 40, 44)  # larger than the Local variants' window: TLC is active
    runner = prepare_for_inference(net)
    assert isinstance(runner, InferenceRunner)
    out = runner(x)
    assert out.dtype == torch.float32 and out.is_contiguous() and out.shape == x.shape
    ref = eager(net, x)
    # 1e-4 for outputs in image range; random DeblurUNet weights give outputs in the thousands
    assert (out - ref).abs().max().item() <= 1e-4 * max(1.0, ref.abs().max().item())


def test_default_path_leaves_the_original_untouched():
    net = build_random('NAFNet').train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    prepare_for_inference(net)
    prepare_for_inference(net, fuse=False, precision='bf16')
    assert net.training
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    assert all(p.dtype == torch.float32 and p.is_contiguous() for p in net.parameters())


@pytest.mark.parametrize('name', ['NAFNet', 'BaselineLocal'])
@pytest.mark.parametrize('autocast', [False, True])
def test_bf16_path_within_tolerance(name, autocast):
    net = build_random(name, scale=0.05)
    x = torch.rand(1, 3, 32, 48)
    out = prepare_for_inference(net, precision='bf16', autocast=autocast)(x)
    assert out.dtype == torch.float32
    diff = (out - eager(net, x)).abs().max().item()
    assert 0 < diff <= 1e-2  # > 0: it really ran in bf16


def test_paths_without_fusion_or_channels_last():
    net = build_random('NAFNet')
    x = torch.rand(1, 3, 24, 24)
    for kwargs in (dict(fuse=False), dict(channels_last=False), dict(fuse=False, channels_last=False)):
        assert (prepare_for_inference(net, **kwargs)(x) - eager(net, x)).abs().max().item() <= 1e-4


def test_compile_failure_falls_back_to_eager(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError('no compiler here')

    monkeypatch.setattr(torch, 'compile', lambda module, **kw: broken)
    net = build_random('NAFNet')
    runner = prepare_for_inference(net, compile=True)
    x = torch.rand(1, 3, 16, 16)
    with pytest.warns(UserWarning, match='torch.compile failed'):
        out = runner(x)
    assert not runner.compiled
    assert (out - eager(net, x)).abs().max().item() <= 1e-4


def test_bad_input_and_training_are_refused():
    runner = prepare_for_inference(build_random('NAFNet'))
    with pytest.raises(ValueError, match='precision'):
        prepare_for_inference(build_random('NAFNet'), precision='int8')
    with pytest.raises(ValueError, match='float32'):
        runner(torch.rand(1, 3, 8, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match='N x C x H x W'):
        runner(torch.rand(3, 8, 8))
    with pytest.raises(RuntimeError, match='cannot be trained'):
        runner.train()
