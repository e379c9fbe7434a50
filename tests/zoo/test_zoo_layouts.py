"""mmagic's checkpoint layout converted to the official one: proved by the documented rename and back."""
import pytest
import torch
from basicsr.archs import build_network

from tiny_models import TINY_ARCH_CONFIGS

from basicsr_nafnet.engine.checkpoint import CheckpointError
from basicsr_nafnet.inference.layouts import (is_mmagic_checkpoint, mmagic_options_to_official, mmagic_to_official,
                                              read_official_state_dict)


def official_net():
    net = build_network({'type': 'NAFNetLocal', **TINY_ARCH_CONFIGS['NAFNetLocal']})
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.1)
    return net.eval()


def as_mmagic(state):
    """mmagic's layout, as mmengine saves a BaseEditModel: the network under 'generator.', other modules beside."""
    weights = {'generator.' + k: v.clone() for k, v in state.items()}
    weights['data_preprocessor.mean'] = torch.zeros(1, 3, 1, 1)  # not the network's: must be left out
    return {'meta': {'mmagic_version': '1.2.0'}, 'state_dict': weights}


def test_mmagic_checkpoint_converts_back_and_loads_strictly(tmp_path):
    net = official_net()
    official = net.state_dict()
    ckpt = as_mmagic(official)
    assert is_mmagic_checkpoint(ckpt) and not is_mmagic_checkpoint({'params': official})
    converted = mmagic_to_official(ckpt)
    assert list(converted) == list(official)
    assert all(torch.equal(converted[k], official[k]) for k in official)

    torch.save(ckpt, tmp_path / 'mmagic.pth')
    key, state = read_official_state_dict(str(tmp_path / 'mmagic.pth'))
    assert key == 'state_dict'
    fresh = build_network({'type': 'NAFNetLocal', **TINY_ARCH_CONFIGS['NAFNetLocal']}).eval()
    fresh.load_state_dict(state, strict=True)
    x = torch.rand(1, 3, 20, 28)
    with torch.no_grad():
        assert torch.equal(fresh(x), net(x))


def test_official_files_still_read_as_before(tmp_path):
    official = official_net().state_dict()
    torch.save({'params_ema': official, 'params': official}, tmp_path / 'a.pth')
    assert read_official_state_dict(str(tmp_path / 'a.pth'))[0] == 'params'
    assert read_official_state_dict(str(tmp_path / 'a.pth'), key='params_ema')[0] == 'params_ema'


def test_no_generator_weights_is_a_clear_error():
    with pytest.raises(CheckpointError, match="x.pth: no weights under 'generator.'"):
        mmagic_to_official({'state_dict': {'backbone.w': torch.zeros(1)}}, 'x.pth')


def test_mmagic_constructor_names():
    # mmagic's config of the GoPro width-64 model (configs/nafnet), under the official argument names
    mmagic = dict(type='NAFNetLocal', img_channels=3, mid_channels=64, enc_blk_nums=[1, 1, 1, 28], middle_blk_num=1,
                  dec_blk_nums=[1, 1, 1, 1])
    assert mmagic_options_to_official(mmagic) == dict(img_channel=3, width=64, enc_blk_nums=[1, 1, 1, 28],
                                                      middle_blk_num=1, dec_blk_nums=[1, 1, 1, 1])
