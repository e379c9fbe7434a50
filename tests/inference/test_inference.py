"""Tiled inference and checkpoint loading (basicsr_nafnet.inference)."""
import math
import os

import pytest
import torch
from basicsr.archs import build_network
from skimage import data as skdata

from basicsr_nafnet.engine.checkpoint import CheckpointError, load_checkpoint, read_state_dict
from basicsr_nafnet.inference import tile_starts, tiled_forward

TINY = dict(type='NAFNet', width=8, enc_blk_nums=(1, 1), middle_blk_num=1, dec_blk_nums=(1, 1))


def tiny_nafnet(seed=0):
    """A tiny NAFNet whose blocks are active (beta/gamma start at zero in a fresh network)."""
    torch.manual_seed(seed)
    net = build_network(dict(TINY)).eval()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(('beta', 'gamma')):
                p.uniform_(-0.3, 0.3)
    return net


def photo(h, w):
    """A structured RGB test image in [0, 1] (a crop of scikit-image's astronaut)."""
    img = torch.from_numpy(skdata.astronaut()[:h, :w].copy()).permute(2, 0, 1)[None].float() / 255
    return img


def psnr(a, b):
    return 10 * math.log10(1 / torch.mean((a.clamp(0, 1) - b.clamp(0, 1))**2).item())


@pytest.mark.parametrize('length,tile,overlap', [(100, 40, 10), (37, 16, 4), (64, 64, 8), (65, 64, 32), (7, 3, 2)])
def test_tile_starts_cover_with_requested_overlap(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    assert starts[0] == 0 and starts[-1] + min(tile, length) == length
    for a, b in zip(starts, starts[1:]):
        assert b > a and a + tile - b >= overlap


@pytest.mark.parametrize('tile', [None, (37, 45), 64, 1000])
def test_tile_covering_image_equals_whole_image(tile):
    net = tiny_nafnet()
    img = torch.rand(2, 3, 37, 45)
    with torch.inference_mode():
        assert torch.equal(tiled_forward(net, img, tile=tile), net(img))


@pytest.mark.parametrize('shape,tile,overlap', [((1, 3, 37, 53), 16, 5), ((2, 1, 20, 9), (8, 32), 3),
                                                ((1, 3, 64, 64), 24, 0), ((1, 4, 31, 30), 7, 6)])
def test_blending_weights_sum_to_one(shape, tile, overlap):
    # a pointwise net must come back unchanged: every pixel covered, weights normalised, no seams
    img = torch.rand(shape)
    out = tiled_forward(lambda x: 2 * x + 1, img, tile=tile, overlap=overlap)
    torch.testing.assert_close(out, 2 * img + 1, rtol=0, atol=1e-5)


def test_tiled_local_net_has_no_seams():
    # a CNN with a 7-pixel receptive radius: blended tiles must match whole-image inference closely
    net = build_network(dict(type='ResidualCNN', num_feat=8, num_block=5)).eval()
    img = photo(70, 90)
    with torch.inference_mode():
        whole, tiled = net(img), tiled_forward(net, img, tile=32, overlap=16)
    assert (tiled - whole).abs().max() < 0.02
    assert psnr(tiled, whole) > 50


def test_tiled_nafnet_within_0p05_db_of_whole_image():
    net = tiny_nafnet()
    sharp = photo(96, 128)
    blur = torch.nn.functional.avg_pool2d(sharp, 5, 1, 2, count_include_pad=False)
    with torch.inference_mode():
        whole, tiled = net(blur), tiled_forward(net, blur, tile=64, overlap=16)
    assert not torch.equal(whole, tiled)  # it did tile
    assert abs(psnr(whole, sharp) - psnr(tiled, sharp)) < 0.05


def test_tiled_forward_rejects_bad_arguments():
    with pytest.raises(ValueError, match='N x C x H x W'):
        tiled_forward(lambda x: x, torch.rand(3, 8, 8), tile=4)
    with pytest.raises(ValueError, match='tile must be positive'):
        tiled_forward(lambda x: x, torch.rand(1, 3, 8, 8), tile=0)
    with pytest.raises(ValueError, match='keeps H x W'):
        tiled_forward(lambda x: x[..., :-1, :], torch.rand(1, 3, 8, 8), tile=4, overlap=1)


# ----------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize('wrap', ['params', 'params_ema', 'bare', 'module'])
def test_load_official_and_basicsr_formats(tmp_path, wrap):
    src, dst = tiny_nafnet(1), tiny_nafnet(2)
    state = src.state_dict()
    if wrap == 'bare':
        obj = state
    elif wrap == 'module':
        obj = {'params': {f'module.{k}': v for k, v in state.items()}}
    else:
        obj = {wrap: state}
    path = tmp_path / 'net.pth'
    torch.save(obj, path)
    report = load_checkpoint(dst, str(path))
    assert report.missing == report.unexpected == report.mismatched == []
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k


def test_explicit_key_is_used_and_missing_key_reported(tmp_path):
    a, b, dst = tiny_nafnet(1), tiny_nafnet(2), tiny_nafnet(3)
    path = tmp_path / 'both.pth'
    torch.save({'params': a.state_dict(), 'params_ema': b.state_dict()}, path)
    assert load_checkpoint(dst, str(path)).key == 'params'
    assert torch.equal(dst.intro.weight, a.intro.weight)
    load_checkpoint(dst, str(path), key='params_ema')
    assert torch.equal(dst.intro.weight, b.intro.weight)
    with pytest.raises(CheckpointError, match="no key 'ema'"):
        load_checkpoint(dst, str(path), key='ema')


def test_checkpoint_of_another_arch_lists_missing_and_unexpected(tmp_path):
    path = tmp_path / 'wide.pth'
    wide = build_network(dict(TINY, width=16, enc_blk_nums=(1, 1, 1), dec_blk_nums=(1, 1, 1)))
    torch.save({'params': wide.state_dict()}, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tiny_nafnet(), str(path))
    msg = str(err.value)
    assert str(path) in msg and 'does not fit NAFNet' in msg
    assert 'unexpected keys: ' in msg and 'encoders.2.0' in msg
    assert 'shape mismatches: ' in msg and 'intro.weight: checkpoint (16, 3, 3, 3) vs network (8, 3, 3, 3)' in msg

    narrow = tmp_path / 'narrow.pth'
    state = tiny_nafnet().state_dict()
    del state['ending.weight'], state['ending.bias']
    torch.save(state, narrow)
    with pytest.raises(CheckpointError, match=r'missing keys: 2 \(ending.weight, ending.bias\)'):
        load_checkpoint(tiny_nafnet(), str(narrow))
    # not strict: what fits is loaded, the rest is reported
    report = load_checkpoint(tiny_nafnet(), str(narrow), strict=False)
    assert report.missing == ['ending.weight', 'ending.bias']


def test_not_a_state_dict(tmp_path):
    path = tmp_path / 'meta.pth'
    torch.save({'iter': 5, 'epoch': 1, 'optimizers': []}, path)
    with pytest.raises(CheckpointError, match='is not a state dict at its top level'):
        read_state_dict(str(path))
    torch.save({'params': [torch.zeros(1)]}, path)
    with pytest.raises(CheckpointError, match="is not a state dict under 'params'|is not a state dict at"):
        read_state_dict(str(path))
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'not a checkpoint at all')
    with pytest.raises(CheckpointError, match='not a readable PyTorch checkpoint'):
        read_state_dict(str(garbage))
    with pytest.raises(CheckpointError, match='no such file'):
        read_state_dict(str(tmp_path / 'absent.pth'))


class _RunsCode:
    """Unpickling this would call os.system: what weights_only=True exists to refuse."""

    def __reduce__(self):
        return (os.system, ('echo pwned', ))


def test_pickle_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'params': tiny_nafnet().state_dict(), 'hook': _RunsCode()}, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tiny_nafnet(), str(path))
    msg = str(err.value)
    assert str(path) in msg and 'would run code' in msg and 'system' in msg


def test_error_hides_torch_internals(tmp_path):
    # raised "from None": a CLI printing the error shows our message, not a chain into torch.load
    path = tmp_path / 'evil.pth'
    torch.save(_RunsCode(), path)
    with pytest.raises(CheckpointError) as err:
        read_state_dict(str(path))
    assert err.value.__cause__ is None and err.value.__suppress_context__


# ----------------------------------------------------------------------------- opening a model (spec -> runner)


def _saved_tiny(path, seed=0):
    torch.save({'params': tiny_nafnet(seed).state_dict()}, path)
    return str(path)


TINY_ARGS = 'width=8,enc_blk_nums=[1,1],middle_blk_num=1,dec_blk_nums=[1,1]'


def test_dict_spec_is_the_string_spec_without_the_round_trip(tmp_path):
    from basicsr_nafnet.inference import ModelSpecError, parse_model_spec

    run_models = tmp_path / 'experiments' / 'myrun' / 'models'
    run_models.mkdir(parents=True)
    ckpt = _saved_tiny(run_models / 'net_g_latest.pth')
    network = dict(TINY, enc_blk_nums=[1, 1], dec_blk_nums=[1, 1])
    from_dict = parse_model_spec(dict(network=network, checkpoint=ckpt))
    from_text = parse_model_spec(f'NAFNet:{TINY_ARGS}@{ckpt}')
    assert from_dict.network == from_text.network and from_dict.checkpoint == from_text.checkpoint == ckpt
    assert from_dict.name == from_text.name == 'myrun'  # rows named after the training run, as before
    assert parse_model_spec(dict(network=network, checkpoint=ckpt, name='mine')).name == 'mine'
    with pytest.raises(ModelSpecError, match='checkpoint not found'):
        parse_model_spec(dict(network=network, checkpoint=str(tmp_path / 'absent.pth')))
    with pytest.raises(ModelSpecError, match="needs 'network'"):
        parse_model_spec(dict(checkpoint=ckpt))
    with pytest.raises(ModelSpecError, match='unknown keys chekpoint'):
        parse_model_spec(dict(network=network, chekpoint=ckpt))


def test_open_model_gives_the_default_runner_and_refuses_a_spec_without_weights(tmp_path):
    from basicsr_nafnet.errors import UserError
    from basicsr_nafnet.inference import InferenceRunner, open_model

    ckpt = _saved_tiny(tmp_path / 'tiny.pth', seed=3)
    model = open_model(f'NAFNet:{TINY_ARGS}@{ckpt}')
    assert model.runtime is None and model.checkpoint == ckpt and model.name == 'NAFNet-tiny'
    assert isinstance(model.runner, InferenceRunner) and model.runner is model.runner  # made once
    x = photo(24, 40)
    with torch.no_grad():
        expected = tiny_nafnet(3)(x)
    assert (model.runner(x) - expected).abs().max().item() < 1e-4
    with pytest.raises(UserError, match='deblurring needs trained weights'):
        open_model(f'NAFNet:{TINY_ARGS}', needs_weights='deblurring')
    with pytest.raises(UserError, match='runs float32'):
        open_model(f'NAFNet:{TINY_ARGS}@{ckpt}', runtime='openvino', precision='bf16')


def test_open_model_hashes_the_weights_once_for_an_exported_runtime(tmp_path, monkeypatch):
    from basicsr_nafnet.inference import export_cache, open_model
    from basicsr_nafnet.inference import open as opening

    ckpt = _saved_tiny(tmp_path / 'tiny.pth')
    digests, exported = [], []
    real_digest = export_cache.weights_digest
    monkeypatch.setattr(export_cache, 'weights_digest', lambda net: digests.append(1) or real_digest(net))
    monkeypatch.setattr(opening, 'export_cached', lambda spec, net, path, runtime, log=None: exported.append(path)
                        or path)
    monkeypatch.setattr(opening, 'make_runtime_runner', lambda path, runtime, key=None: (path, runtime))
    model = open_model(f'NAFNet:{TINY_ARGS}@{ckpt}', runtime='openvino')
    assert model.runtime == 'openvino' and len(digests) == 1 and not exported  # checked, nothing exported yet
    path, runtime = model.runner
    assert runtime == 'openvino' and exported == [path] and len(digests) == 1
    assert os.path.dirname(path) == str(tmp_path) and os.path.basename(path).startswith('tiny.')
    other, _ = model.runner_for(tiny_nafnet(5), extra={'tlc_train_size': 256})  # a variant is keyed by its own
    assert other != path and len(digests) == 2


def test_deblur_array_refuses_a_precision_its_runner_would_ignore():
    from basicsr_nafnet.inference import prepare_for_inference
    from basicsr_nafnet.inference.deblur import deblur_array

    runner = prepare_for_inference(tiny_nafnet())
    rgb = photo(16, 16)[0].permute(1, 2, 0).numpy()
    assert deblur_array(runner, rgb).shape == rgb.shape
    with pytest.raises(ValueError, match='already prepared'):
        deblur_array(runner, rgb, precision='bf16')
