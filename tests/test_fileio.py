"""The atomic writer: Ctrl-C in the middle of torch.save stays a Ctrl-C and leaves nothing behind."""
import pytest
import torch

from basicsr_nafnet.fileio import atomic_save


def test_ctrl_c_inside_torch_save_is_an_interruption_not_a_traceback(tmp_path, monkeypatch):
    def interrupted_save(obj, f):
        f.write(b'PK half a record')
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:  # what torch.save's zip writer raises while cleaning up after the interrupt
            raise RuntimeError('[enforce fail at inline_container.cc:672] . unexpected pos 30784 vs 30672')

    monkeypatch.setattr(torch, 'save', interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({'params': {}}, str(tmp_path / 'net_g_2.pth'))
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary


def test_other_save_failures_keep_their_error(tmp_path, monkeypatch):
    def broken_save(obj, f):
        raise RuntimeError('disk went away')

    monkeypatch.setattr(torch, 'save', broken_save)
    with pytest.raises(RuntimeError, match='disk went away'):
        atomic_save({'params': {}}, str(tmp_path / 'net_g_2.pth'))
    assert list(tmp_path.iterdir()) == []
