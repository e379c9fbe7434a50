"""LayerNorm2d: gradcheck of the custom backward and agreement with a plain autograd version."""
import torch

from basicsr_nafnet.archs.arch_util import LayerNorm2d


def plain_layernorm2d(x, weight, bias, eps):
    mu = x.mean(1, keepdim=True)
    var = (x - mu).pow(2).mean(1, keepdim=True)
    return weight.view(1, -1, 1, 1) * (x - mu) / (var + eps).sqrt() + bias.view(1, -1, 1, 1)


def test_gradcheck_float64():
    norm = LayerNorm2d(5).double()
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(2, 5, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(norm, (x, ), eps=1e-6, atol=1e-5)


def test_matches_plain_autograd_forward_and_backward():
    norm = LayerNorm2d(6)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(3, 6, 7, 5, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    w_ref = norm.weight.detach().clone().requires_grad_()
    b_ref = norm.bias.detach().clone().requires_grad_()
    grad = torch.randn(3, 6, 7, 5)
    out = norm(x)
    ref = plain_layernorm2d(x_ref, w_ref, b_ref, norm.eps)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    out.backward(grad)
    ref.backward(grad)
    torch.testing.assert_close(x.grad, x_ref.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(norm.weight.grad, w_ref.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(norm.bias.grad, b_ref.grad, atol=1e-4, rtol=1e-4)


def test_normalises_each_pixel_over_channels():
    norm = LayerNorm2d(4)
    x = torch.randn(1, 4, 3, 3) * 10 + 3
    out = norm(x)
    torch.testing.assert_close(out.mean(1), torch.zeros(1, 3, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(1, unbiased=False), torch.ones(1, 3, 3), atol=1e-3, rtol=0)


def test_keeps_bf16_dtype_and_computes_in_float32():
    norm = LayerNorm2d(4).to(torch.bfloat16)
    x = torch.randn(1, 4, 5, 5).to(torch.bfloat16)
    out = norm(x)
    assert out.dtype == torch.bfloat16
    ref = plain_layernorm2d(x.float(), norm.weight.float(), norm.bias.float(), norm.eps)
    torch.testing.assert_close(out.float(), ref, atol=2e-2, rtol=2e-2)


def test_channels_last_input_takes_one_operator_and_matches_nchw():
    from basicsr_nafnet.bench.operators import count_operators
    norm = LayerNorm2d(6)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(2, 6, 5, 7)
    grad = torch.randn(2, 6, 5, 7)
    x_nchw = x.clone().requires_grad_()
    x_last = x.contiguous(memory_format=torch.channels_last).requires_grad_()
    out_nchw = norm(x_nchw)
    out_nchw.backward(grad)
    grads_nchw = [p.grad.clone() for p in (norm.weight, norm.bias)]
    norm.zero_grad()
    out_last = norm(x_last)
    assert out_last.is_contiguous(memory_format=torch.channels_last)
    out_last.backward(grad)
    torch.testing.assert_close(out_last, out_nchw, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(x_last.grad, x_nchw.grad, atol=1e-4, rtol=1e-4)
    for p, ref in zip((norm.weight, norm.bias), grads_nchw):
        torch.testing.assert_close(p.grad, ref, atol=1e-4, rtol=1e-4)
    with torch.no_grad():
        assert count_operators(lambda: norm(x_last))['compute'] < count_operators(lambda: norm(x))['compute']
    bf16 = LayerNorm2d(6).to(torch.bfloat16)
    out = bf16(x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last))
    assert out.dtype == torch.bfloat16 and out.is_contiguous(memory_format=torch.channels_last)
    ref = plain_layernorm2d(x, bf16.weight.float(), bf16.bias.float(), bf16.eps)
    torch.testing.assert_close(out.float(), ref, atol=2e-2, rtol=2e-2)
