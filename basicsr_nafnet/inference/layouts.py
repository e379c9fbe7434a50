"""Checkpoint layouts other than the official NAFNet one, converted to it on load.

mmagic (OpenMMLab) saves a whole ``BaseEditModel`` through mmengine: ``{'meta': ..., 'state_dict': {...}}`` with the
network's weights under the prefix ``generator.`` (beside the model's other modules, e.g. its data preprocessor).
Its NAFNet keeps the official module names below that prefix (``intro``, ``encoders.{i}.{j}.conv1``, ``sca.1``,
``beta``, ...); only its constructor names differ (``img_channels``, ``mid_channels`` for ``img_channel``, ``width``).
"""
from collections import OrderedDict

import torch

from ..engine.checkpoint import CheckpointError, load_state, state_dict_from

__all__ = ['MMAGIC_MODULE', 'is_mmagic_checkpoint', 'mmagic_to_official', 'mmagic_options_to_official',
           'read_official_state_dict']

MMAGIC_MODULE = 'generator'  # the attribute of mmagic's BaseEditModel that holds the network
_MMAGIC_OPTION_NAMES = {'img_channels': 'img_channel', 'mid_channels': 'width'}


def _weights_of(ckpt):
    """mmengine keeps the model's weights under ``state_dict``; a bare dict is taken as the weights."""
    if isinstance(ckpt, dict) and isinstance(ckpt.get('state_dict'), dict):
        return ckpt['state_dict']
    return ckpt if isinstance(ckpt, dict) else {}


def is_mmagic_checkpoint(ckpt, module=MMAGIC_MODULE):
    """True when a loaded checkpoint holds tensors under ``<module>.`` (mmagic's layout)."""
    prefix = module + '.'
    return any(isinstance(k, str) and k.startswith(prefix) and isinstance(v, torch.Tensor)
               for k, v in _weights_of(ckpt).items())


def mmagic_to_official(ckpt, path='checkpoint', module=MMAGIC_MODULE):
    """The official-layout state dict of the network inside an mmagic checkpoint.

    Args:
        ckpt (dict): The loaded file (``{'state_dict': {...}, 'meta': ...}``) or its ``state_dict``.
        path (str): Names the file in errors.
        module (str): The model attribute holding the network. Default: 'generator'.

    Returns:
        OrderedDict: Keys without the ``<module>.`` prefix; the other modules' entries are left out.

    Raises:
        CheckpointError: Nothing under ``<module>.``.
    """
    prefix = module + '.'
    state = OrderedDict((k[len(prefix):], v) for k, v in _weights_of(ckpt).items()
                        if isinstance(k, str) and k.startswith(prefix) and isinstance(v, torch.Tensor))
    if not state:
        raise CheckpointError(f"checkpoint {path}: no weights under '{prefix}' (not an mmagic checkpoint of a "
                              f"model whose network is '{module}')")
    return state


def mmagic_options_to_official(options):
    """mmagic's NAFNet constructor arguments under the official names (``mid_channels`` -> ``width``, ...)."""
    return {_MMAGIC_OPTION_NAMES.get(k, k): v for k, v in options.items() if k != 'type'}


def read_official_state_dict(path, key=None):
    """Read a checkpoint in the official, BasicSR or mmagic layout as an official-layout state dict.

    Args:
        path (str): The file (read with ``weights_only=True``).
        key (str | None): Where the weights are in an official/BasicSR file (``params``, ``params_ema``, ...);
            None tries them in order (see :func:`basicsr_nafnet.engine.checkpoint.read_state_dict`). An mmagic
            file is recognised by its ``generator.`` prefix whatever ``key`` says.

    Returns:
        tuple[str | None, OrderedDict]: Where the weights were (``'state_dict'`` for mmagic) and the state dict.
    """
    ckpt = load_state(path, what='checkpoint')
    if is_mmagic_checkpoint(ckpt):
        return 'state_dict', mmagic_to_official(ckpt, path)
    return state_dict_from(ckpt, path, key)
