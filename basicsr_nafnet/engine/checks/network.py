"""Checks of the network options and of the checkpoint they load (shapes only, on the meta device)."""
import torch

from ...errors import UserError
from ..checkpoint import check_state_dict_fits, load_state, state_dict_from
from .values import Problems, check_bool, registered

__all__ = ['build_meta_network', 'check_checkpoint_fits', 'check_network', 'check_pretrained']


def build_meta_network(network_opt, key='network_g'):
    """Build ``network_opt`` (``{'type': ..., **kwargs}``) on the meta device: shapes without memory.

    Raises:
        UserError: Unknown arch, or its constructor rejects the arguments.
    """
    from basicsr.utils.registry import ARCH_REGISTRY

    problems = Problems()
    if not isinstance(network_opt, dict):
        raise UserError(f'{key}: expected a mapping with a type, got {network_opt!r}')
    if not registered(problems, ARCH_REGISTRY, network_opt.get('type'), f'{key}.type', 'arch'):
        raise UserError(problems[0])
    kwargs = {k: v for k, v in network_opt.items() if k != 'type'}
    try:
        with torch.device('meta'):
            return ARCH_REGISTRY.get(network_opt['type'])(**kwargs)
    except Exception as err:  # the arch's own argument checks: TypeError, ValueError, negative sizes, ...
        raise UserError(f"{key}: cannot build {network_opt['type']} with {kwargs}: "
                        f"{type(err).__name__}: {' '.join(str(err).split())}") from None


def check_checkpoint_fits(net, path, key, strict=True):
    """Read the weights BasicSR's ``load_network`` would read and check they fit ``net`` (shapes only).

    ``key`` is ``path.param_key_g`` (None: the file is a bare state dict); as in BasicSR, a missing key
    falls back to ``params``.

    Raises:
        CheckpointError: Unreadable, code-running, missing the key, or (strict) not fitting ``net``.
    """
    top = load_state(path)
    if key is not None and isinstance(top, dict) and key not in top and 'params' in top:
        key = 'params'
    key, state = state_dict_from(top, path, key)
    if strict:
        check_state_dict_fits(net, state, path, key)
    return key


def check_network(problems, opt):
    """The meta-device ``network_g``, or None with the problem recorded."""
    try:
        return build_meta_network(opt.get('network_g'))
    except UserError as err:
        problems.append(str(err))
        return None


def check_pretrained(problems, opt, net, is_train, files):
    """``path.*``: the pretrained weights exist, are safe to read and (``files``) fit ``net``."""
    paths = opt.get('path') or {}
    if not isinstance(paths, dict):
        problems.add('path', f'expected a mapping, got {paths!r}')
        return
    check_bool(problems, paths, 'strict_load_g', 'path.strict_load_g')
    pretrained = paths.get('pretrain_network_g')
    if pretrained is not None and not isinstance(pretrained, str):
        problems.add('path.pretrain_network_g', f'expected a file path, got {pretrained!r}')
    elif pretrained and net is not None and files:
        try:
            check_checkpoint_fits(net, pretrained, paths.get('param_key_g', 'params'),
                                  strict=paths.get('strict_load_g', True) is not False)
        except UserError as err:
            problems.add('path.pretrain_network_g', str(err))
    elif not pretrained and not is_train:
        problems.add('path.pretrain_network_g', 'testing needs trained weights: set it to a checkpoint (.pth)')
