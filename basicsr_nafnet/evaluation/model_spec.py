"""Which network to evaluate: an option file, an arch spec with a checkpoint, or one of our recipes.

Spec forms (``--model``):

* ``options/test/GoPro/NAFNet-width32.yml``: its ``network_g`` and ``path.pretrain_network_g``
  (``path.param_key_g`` picks the weights key, ``path.strict_load_g`` strictness).
* ``NAFNet:width=32,enc_blk_nums=[1,1,1,28]@ckpt.pth``: an arch registered in BasicSR, its
  keyword arguments (values in YAML syntax), and a checkpoint; ``NAFNet@ckpt.pth`` uses the
  arch's defaults. Without ``@ckpt`` the network keeps its random initialisation (only useful for
  speed and size columns; the row is marked ``untrained``).
* ``NAFNet-GoPro``: the name of an option file in this project's ``options/`` folder (the test twin
  when there is one). A training recipe without ``pretrain_network_g`` uses what its training run
  wrote, ``experiments/<name>/models/net_g_latest.pth``.
"""
import copy
import os
from collections import namedtuple

import yaml

from ..engine.checkpoint import load_checkpoint
from ..engine.options import OPTION_SUFFIXES, load_options, project_option_files
from ..errors import UserError

__all__ = ['ModelSpecError', 'ModelSpec', 'parse_model_spec', 'build_model']

ModelSpec = namedtuple('ModelSpec', ['name', 'network', 'checkpoint', 'key', 'strict', 'source'])
ModelSpec.__doc__ = ('A network to evaluate: display name, ``network_g`` dict, checkpoint path (or None), '
                     'weights key (or None for automatic), strict loading, and the spec it came from.')


class ModelSpecError(UserError):
    """A ``--model`` spec that cannot be parsed or built."""


def _split_top_level(text, sep=','):
    """Split on ``sep`` outside brackets: ``a=[1,2],b=3`` -> ``['a=[1,2]', 'b=3']``."""
    parts, depth, current = [], 0, ''
    for ch in text:
        depth += ch in '[({'
        depth -= ch in '])}'
        if ch == sep and depth == 0:
            parts.append(current)
            current = ''
        else:
            current += ch
    if depth != 0:
        raise ModelSpecError(f'unbalanced brackets in {text!r}')
    return parts + [current] if current or parts else []


def _from_option_file(path, spec):
    try:
        opt = load_options(path)
    except ValueError as err:
        raise ModelSpecError(str(err)) from None
    network = opt.get('network_g')
    if not isinstance(network, dict) or 'type' not in network:
        raise ModelSpecError(f'{path}: no network_g with a type; it is what the leaderboard builds')
    paths = opt.get('path') or {}
    ckpt = paths.get('pretrain_network_g')
    if not ckpt and opt.get('name'):
        # a training recipe: use what training it wrote, BasicSR's experiments/<name>/models/net_g_latest.pth
        latest = os.path.join('experiments', opt['name'], 'models', 'net_g_latest.pth')
        ckpt = latest if os.path.isfile(latest) else None
    if not ckpt:
        raise ModelSpecError(f'{path}: path.pretrain_network_g is empty and there is no '
                             f'experiments/{opt.get("name")}/models/net_g_latest.pth; a trained checkpoint is needed '
                             '(or use an arch spec such as NAFNet:width=32@ckpt.pth)')
    if not os.path.isabs(ckpt) and not os.path.exists(ckpt):
        # BasicSR resolves it against the working directory; fall back to the option file's folder
        beside = os.path.join(os.path.dirname(os.path.abspath(path)), ckpt)
        ckpt = beside if os.path.exists(beside) else ckpt
    return ModelSpec(
        opt.get('name') or os.path.splitext(os.path.basename(path))[0], network, ckpt, paths.get('param_key_g'),
        paths.get('strict_load_g', True) is not False, spec)


def parse_model_spec(spec):
    """Parse a ``--model`` value (see the module docstring for the forms).

    Args:
        spec (str): The value.

    Returns:
        ModelSpec: What to build.

    Raises:
        ModelSpecError: Malformed arguments, an unknown arch, an option file without weights.
    """
    from basicsr.utils.registry import ARCH_REGISTRY

    if spec.endswith(OPTION_SUFFIXES):
        if not os.path.isfile(spec):
            raise ModelSpecError(f'option file not found: {spec}')
        return _from_option_file(spec, spec)
    body, _, ckpt = spec.rpartition('@') if '@' in spec else (spec, '', '')
    arch, _, arg_text = body.partition(':')
    arch = arch.strip()
    if arch not in ARCH_REGISTRY and not arg_text and not ckpt:
        recipes = project_option_files()
        if arch in recipes:
            return _from_option_file(recipes[arch], spec)
    if arch not in ARCH_REGISTRY:
        known = sorted(name for name, _ in ARCH_REGISTRY)
        raise ModelSpecError(f"--model {spec!r}: '{arch}' is neither an option file (.yml), one of our option "
                             f"names ({', '.join(sorted(project_option_files())) or 'none found'}), nor an arch "
                             f"registered in BasicSR ({', '.join(known)})")
    network = {'type': arch}
    for item in _split_top_level(arg_text):
        name, eq, value = item.partition('=')
        if not eq or not name.strip():
            raise ModelSpecError(f'--model {spec!r}: argument {item!r} is not name=value')
        try:
            network[name.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ModelSpecError(f'--model {spec!r}: cannot parse the value of {name.strip()!r}: {value!r}') from None
    ckpt = ckpt.strip() or None
    if ckpt and not os.path.isfile(ckpt):
        raise ModelSpecError(f'--model {spec!r}: checkpoint not found: {ckpt}')
    name = _checkpoint_label(arch, ckpt) if ckpt else f'{arch} (untrained)'
    return ModelSpec(name, network, ckpt, None, True, spec)


def _checkpoint_label(arch, ckpt):
    """A row name for a checkpoint: the run name for BasicSR's ``experiments/<run>/models/net_g_<iter>.pth``."""
    stem = os.path.splitext(os.path.basename(ckpt))[0]
    models_dir = os.path.dirname(os.path.abspath(ckpt))
    if os.path.basename(models_dir) == 'models' and stem.startswith('net_g_'):
        run, iteration = os.path.basename(os.path.dirname(models_dir)), stem[len('net_g_'):]
        return run if iteration == 'latest' else f'{run}@{iteration}'
    return f'{arch}-{stem}'


def build_model(spec, device='cpu'):
    """Build the network of a :class:`ModelSpec`, load its weights, and put it in eval mode.

    Args:
        spec (ModelSpec): From :func:`parse_model_spec`.
        device (str | torch.device): Where to put it. Default: 'cpu'.

    Returns:
        nn.Module: The network.

    Raises:
        ModelSpecError: The arch rejects its arguments.
        CheckpointError: The checkpoint does not load (see :func:`~basicsr_nafnet.engine.checkpoint.load_checkpoint`).
    """
    from basicsr.archs import build_network

    try:
        net = build_network(copy.deepcopy(spec.network))
    except (TypeError, ValueError) as err:
        raise ModelSpecError(f'{spec.source}: cannot build {spec.network.get("type")} with arguments '
                             f'{ {k: v for k, v in spec.network.items() if k != "type"} }: {err}') from None
    if spec.checkpoint:
        load_checkpoint(net, spec.checkpoint, key=spec.key, strict=spec.strict)
    return net.eval().to(device)
