"""Checks of the network options and of the checkpoint they load (shapes only, on the meta device)."""
import torch

from ...errors import UserError, one_line
from ..checkpoint import check_state_dict_fits, load_state, state_dict_from
from .values import Problems, check_bool, registered

__all__ = ['build_meta_network', 'check_checkpoint_fits', 'check_network', 'check_pretrained']

# the path entries BasicSR reads (the run folders are added by the pipeline after the checks)
# the largest whole number an arch argument may hold (widths, block counts, sizes)
MAX_ARCH_INT = 4096
PATH_KEY_PREFIXES = ('pretrain_network_', 'strict_load_', 'param_key_', 'resume_state')


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
    for name, value in kwargs.items():
        numbers = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, int) and not isinstance(v, bool) and v > MAX_ARCH_INT for v in numbers):
            # building 10**12 blocks does not fail, it runs for ever (even on the meta device)
            raise UserError(f'{key}.{name}: {value!r:.80} is beyond any network here (at most {MAX_ARCH_INT})')
    try:
        with torch.device('meta'):
            return ARCH_REGISTRY.get(network_opt['type'])(**kwargs)
    except Exception as err:  # the arch's own argument checks: TypeError, ValueError, negative sizes, ...
        raise UserError(f"{key}: cannot build {network_opt['type']} with {kwargs}: "
                        f"{type(err).__name__}: {one_line(err)}") from None


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
        net = build_meta_network(opt.get('network_g'))
    except UserError as err:
        problems.append(str(err))
        return None
    _check_image_channels(problems, opt)
    _check_output_size(problems, net, opt)
    return net


def _check_output_size(problems, net, opt, size=64):
    """One meta-device forward: the output must be the input times ``scale`` (an SR arch such as RRDBNet upscales by
    4 unless told otherwise, and the loss then fails on the first batch). Archs whose forward the meta device cannot
    run are left to the run."""
    network = opt['network_g']
    channels = network.get('img_channel', network.get('num_in_ch', 3))
    scale = opt.get('scale', 1)
    if not isinstance(channels, int) or not isinstance(scale, int) or isinstance(scale, bool) or scale < 1:
        return
    try:
        with torch.no_grad():
            out = net(torch.empty(1, channels, size, size, device='meta'))
    except NotImplementedError:  # an op without a meta kernel: left to the run
        return
    except Exception as err:  # a network that builds but cannot run (a layer of 0 channels)
        problems.add('network_g', f"{network['type']} cannot run on a {size}x{size} input: {type(err).__name__}: "
                     f"{one_line(err)}")
        return
    if not isinstance(out, torch.Tensor) or tuple(out.shape[-2:]) != (size * scale, size * scale):
        shape = 'x'.join(map(str, out.shape[-2:])) if isinstance(out, torch.Tensor) else type(out).__name__
        problems.add('network_g', f"{network['type']} turns a {size}x{size} input into {shape}; the pairs need "
                     f'{size * scale}x{size * scale} (scale: {scale}); set the arch\'s own scale or upscale option')


def _check_image_channels(problems, opt):
    """BasicSR's datasets give 3 channels (1 with ``color: y``); a network built for others fails on the first batch."""
    datasets = opt.get('datasets') if isinstance(opt.get('datasets'), dict) else {}
    colors = {d.get('color') for d in datasets.values() if isinstance(d, dict)}
    channels = 1 if colors == {'y'} else 3 if colors <= {None} else None
    if channels is None:
        problems.add('datasets', f"every dataset gives the network the same channels: color y on all or none, got "
                     f"{sorted(map(str, colors))}")
        return
    for key in ('img_channel', 'num_in_ch', 'num_out_ch'):
        value = opt['network_g'].get(key, 3)
        if value != channels:
            problems.add(f'network_g.{key}', f'the data has {channels} channels (datasets.*.color: '
                         f"{'y' if channels == 1 else 'unset'}), the network {value}")


def check_pretrained(problems, opt, net, is_train, files):
    """``path.*``: the pretrained weights exist, are safe to read and (``files``) fit ``net``."""
    paths = opt.get('path') or {}
    if not isinstance(paths, dict):
        problems.add('path', f'expected a mapping, got {paths!r}')
        return
    for key, value in paths.items():
        if not isinstance(key, str) or not key.startswith(PATH_KEY_PREFIXES):
            # BasicSR makes a folder for every other path entry, wherever it points
            problems.add(f'path.{key}', f"unknown key (known: {', '.join(p + '*' for p in PATH_KEY_PREFIXES)}); "
                         'BasicSR would create a folder for it')
    resume = paths.get('resume_state')
    if resume is not None and not isinstance(resume, str):
        problems.add('path.resume_state', f'expected a training state file path, got {resume!r:.80}')
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
