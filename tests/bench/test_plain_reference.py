"""The official way of computing NAFNet (the speed reference) gives our network's result."""
import pytest
import torch
from tiny_models import TINY_ARGS

from basicsr_nafnet.archs.baseline_arch import Baseline
from basicsr_nafnet.archs.local_arch import NAFNetLocal
from basicsr_nafnet.archs.nafnet_arch import NAFNet
from basicsr_nafnet.bench.plain_reference import is_plain_nafnet, plain_forward, plain_runner


def test_plain_forward_equals_the_network():
    torch.manual_seed(0)
    net = NAFNet(**TINY_ARGS).eval()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(('beta', 'gamma', 'norm1.weight', 'norm2.bias')):
                p.normal_(0, 0.5)  # every branch and norm affine takes part
        x = torch.rand(2, 3, 19, 27)  # not a multiple of the padder size: padding and crop
        expected = net(x)
        assert torch.allclose(plain_forward(net, x), expected, atol=1e-5, rtol=0)
        assert torch.allclose(plain_runner(net)(x), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize('arch', [Baseline, NAFNetLocal])
def test_other_archs_are_refused(arch):
    net = arch(**TINY_ARGS)
    assert not is_plain_nafnet(net)
    with pytest.raises(TypeError, match='plain_forward computes NAFNet'):
        plain_forward(net, torch.rand(1, 3, 16, 16))
