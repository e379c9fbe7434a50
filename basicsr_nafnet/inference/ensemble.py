"""x8 self-ensemble: the average of a network's outputs over the 8 flips and 90-degree rotations of the input."""
import torch

__all__ = ['self_ensemble']


def _dihedral(x, index):
    """The ``index``-th of the 8 flips/rotations of the H x W plane (index 0 is the identity)."""
    if index & 4:
        x = x.transpose(-2, -1)
    if index & 2:
        x = x.flip(-2)
    if index & 1:
        x = x.flip(-1)
    return x


def _dihedral_inverse(x, index):
    if index & 1:
        x = x.flip(-1)
    if index & 2:
        x = x.flip(-2)
    if index & 4:
        x = x.transpose(-2, -1)
    return x


def self_ensemble(forward, img):
    """x8 self-ensemble: average ``forward`` over the 8 flips and 90-degree rotations of ``img``.

    Args:
        forward (callable): Maps an N x C x H x W tensor to an output of the same layout (it may be
            :func:`tiled_forward` wrapped in a lambda).
        img (Tensor): N x C x H x W input.

    Returns:
        Tensor: The mean of the 8 outputs, each mapped back to the original orientation.
    """
    total = None
    for index in range(8):
        out = _dihedral_inverse(forward(_dihedral(img, index)), index)
        acc = out.to(torch.promote_types(out.dtype, torch.float32))
        total = acc if total is None else total + acc
    return (total / 8).to(out.dtype)
