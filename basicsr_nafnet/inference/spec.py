"""Which network to open: an option file, an arch spec with a checkpoint, one of our recipes, an ``.onnx`` file,
or the same given as a dict.

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
* ``NAFNet-demo@experiments/NAFNet-demo/models/net_g_500.pth``, ``options/x.yml@ckpt.pth``: an option file (by
  name or path) with these weights instead of its own.
* ``net.onnx``: a network exported by ``scripts/export.py``, run by ONNX Runtime (or OpenVINO); rows are
  named after the file.
* ``NAFNet-GoPro-width64``: a pretrained model by its model-zoo name (:mod:`.zoo`): its arch, options and
  weights, downloaded into the cache on first use (or found there).
* In Python, a dict ``{'network': {'type': 'NAFNet', ...}, 'checkpoint': 'ckpt.pth'}`` (optional ``name``,
  ``key``, ``strict``): an arch spec without the string round trip.

A checkpoint reference (after ``@``, ``path.pretrain_network_g``, a dict's ``checkpoint``) is a local file, an
http(s) URL or a model-zoo name; :func:`resolve_weights` is the one place it becomes a local file.
"""
import copy
import os
from collections import namedtuple

import yaml

from ..engine.checkpoint import load_checkpoint
from ..engine.experiment import checkpoint_path, run_name_of_checkpoint
from ..engine.options import OPTION_SUFFIXES, load_options, project_option_files
from ..errors import UserError
from .layouts import read_official_state_dict
from .runtimes import check_onnx_file
from . import zoo

__all__ = ['ModelSpecError', 'ModelSpec', 'parse_model_spec', 'resolve_weights', 'build_model']

ModelSpec = namedtuple('ModelSpec', ['name', 'network', 'checkpoint', 'key', 'strict', 'source', 'onnx'],
                       defaults=(None, ))
ModelSpec.__doc__ = ('A network to open: display name, ``network_g`` dict, checkpoint path (or None), '
                     'weights key (or None for automatic), strict loading, the spec it came from (for messages), '
                     'and the ``.onnx`` file for an exported network (then ``network`` and ``checkpoint`` are None).')


class ModelSpecError(UserError):
    """A ``--model`` spec that cannot be parsed or built."""


def resolve_weights(reference, beside=None):
    """The local file a weights reference names: a path as it is, a URL or a model-zoo name from the cache
    (downloaded into it on first use).

    Args:
        reference (str): As written in the spec or option file.
        beside (str | None): A folder to try relative paths in when they are not found from the working
            directory (the option file's own folder).

    Returns:
        str: A local path; whether it exists is for the caller to judge (its message names the spec form).

    Raises:
        UserError: A URL or zoo name whose file is neither cached nor downloadable (one line: where to get it by
            hand and where to put it), or a cached file whose checksum changed.
    """
    if zoo.is_url(reference) or (not os.path.exists(reference) and reference in zoo.zoo_names()):
        try:
            return zoo.resolve_weights(reference)
        except zoo.DownloadError as err:  # a changed cached file: refused, in one line
            raise ModelSpecError(str(err).splitlines()[0]) from None
    if beside and not os.path.isabs(reference) and not os.path.exists(reference):
        candidate = os.path.join(beside, reference)
        return candidate if os.path.exists(candidate) else reference
    return reference


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


def _from_option_file(path, spec, checkpoint=None):
    """The network of option file ``path`` with its weights: ``checkpoint`` when given (``recipe@ckpt``), else its
    ``path.pretrain_network_g``, else (a training recipe) what its training run wrote."""
    try:
        opt = load_options(path)
    except ValueError as err:
        raise ModelSpecError(str(err)) from None
    network = opt.get('network_g')
    if not isinstance(network, dict) or 'type' not in network:
        raise ModelSpecError(f'{path}: no network_g with a type; it is what the leaderboard builds')
    paths = opt.get('path') or {}
    if checkpoint:  # as an arch spec with these weights, keeping the file's weights key and strictness
        return _arch_spec(network, checkpoint, spec, key=paths.get('param_key_g'),
                          strict=paths.get('strict_load_g', True) is not False)
    ckpt = paths.get('pretrain_network_g')
    if not ckpt and opt.get('name'):
        # a training recipe: use what its training run wrote (relative to the working directory, as BasicSR)
        latest = checkpoint_path(opt['name'], root='')
        ckpt = latest if os.path.isfile(latest) else None
    if not ckpt:
        raise ModelSpecError(f'{path}: path.pretrain_network_g is empty and there is no '
                             f'{checkpoint_path(str(opt.get("name")), root="")}; a trained checkpoint is needed '
                             '(or use an arch spec such as NAFNet:width=32@ckpt.pth)')
    # BasicSR resolves it against the working directory; fall back to the option file's folder
    ckpt = resolve_weights(ckpt, beside=os.path.dirname(os.path.abspath(path)))
    return ModelSpec(
        opt.get('name') or os.path.splitext(os.path.basename(path))[0], network, ckpt, paths.get('param_key_g'),
        paths.get('strict_load_g', True) is not False, spec)


def _checkpoint_label(arch, ckpt):
    """A row name for a checkpoint: the run name for BasicSR's ``experiments/<run>/models/net_g_<iter>.pth``."""
    stem = os.path.splitext(os.path.basename(ckpt))[0]
    run = run_name_of_checkpoint(ckpt)
    if run is not None:
        iteration = stem[len('net_g_'):]
        return run if iteration == 'latest' else f'{run}@{iteration}'
    return f'{arch}-{stem}'


def _arch_spec(network, ckpt, source, name=None, key=None, strict=True):
    """A spec for a registered arch and its arguments, with a checkpoint reference or None (random weights)."""
    from basicsr.utils.registry import ARCH_REGISTRY

    arch = network['type']
    if arch not in ARCH_REGISTRY:
        known = sorted(name for name, _ in ARCH_REGISTRY)
        raise ModelSpecError(f"--model {source!r}: '{arch}' is not an arch registered in BasicSR ({', '.join(known)})")
    ckpt = resolve_weights(ckpt) if ckpt else None
    if ckpt and not os.path.isfile(ckpt):
        raise ModelSpecError(f'--model {source!r}: checkpoint not found: {ckpt}')
    label = name or (_checkpoint_label(arch, ckpt) if ckpt else f'{arch} (untrained)')
    return ModelSpec(label, network, ckpt, key, strict, source)


def _from_dict(spec):
    network = spec.get('network')
    if not isinstance(network, dict) or not isinstance(network.get('type'), str):
        raise ModelSpecError(f"model spec {spec!r}: needs 'network', a dict with the arch's 'type'")
    unknown = set(spec) - {'network', 'checkpoint', 'name', 'key', 'strict'}
    if unknown:
        raise ModelSpecError(f"model spec {spec!r}: unknown keys {', '.join(sorted(unknown))} (known: network, "
                             'checkpoint, name, key, strict)')
    ckpt = spec.get('checkpoint')
    source = f"{network['type']}@{ckpt}" if ckpt else network['type']
    return _arch_spec(dict(network), ckpt, source, spec.get('name'), spec.get('key'), spec.get('strict', True))


def _from_zoo(name):
    """A pretrained model by its zoo name: the entry's arch and options, its weights resolved (cache or download)."""
    entry = zoo.zoo_entry(name)
    network = dict(entry['options'], type=entry['arch'])
    return ModelSpec(name, network, resolve_weights(name), entry.get('weights_key'), True, name)


def parse_model_spec(spec):
    """Parse a model spec (see the module docstring for the forms).

    Args:
        spec (str | dict | ModelSpec): The ``--model`` value, its dict form, or a spec already parsed
            (returned as is).

    Returns:
        ModelSpec: What to build.

    Raises:
        ModelSpecError: Malformed arguments, an unknown arch, an option file without weights.
    """
    from basicsr.utils.registry import ARCH_REGISTRY

    if isinstance(spec, ModelSpec):
        return spec
    if isinstance(spec, dict):
        return _from_dict(spec)
    if spec.lower().endswith('.onnx') and '@' not in spec:
        if not os.path.isfile(spec):
            raise ModelSpecError(f'--model {spec}: ONNX file not found')
        check_onnx_file(spec, '--model')
        return ModelSpec(os.path.basename(spec), None, None, None, True, spec, spec)
    if '@' not in spec and ':' not in spec and spec in zoo.zoo_names():
        return _from_zoo(spec)
    if spec.endswith(OPTION_SUFFIXES):
        if not os.path.isfile(spec):
            raise ModelSpecError(f'option file not found: {spec}')
        return _from_option_file(spec, spec)
    body, _, ckpt = spec.rpartition('@') if '@' in spec else (spec, '', '')
    arch, _, arg_text = body.partition(':')
    arch = arch.strip()
    option_file = body.strip()
    if ckpt and option_file.endswith(OPTION_SUFFIXES):  # options/x.yml@ckpt.pth: its network, these weights
        if not os.path.isfile(option_file):
            raise ModelSpecError(f'--model {spec!r}: option file not found: {option_file}')
        return _from_option_file(option_file, spec, checkpoint=ckpt.strip())
    if arch not in ARCH_REGISTRY and not arg_text:
        recipes = project_option_files()
        if arch in recipes:  # NAFNet-demo, or NAFNet-demo@experiments/NAFNet-demo/models/net_g_500.pth
            return _from_option_file(recipes[arch], spec, checkpoint=ckpt.strip() or None)
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
    return _arch_spec(network, ckpt.strip() or None, spec)


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

    if spec.onnx:
        raise ModelSpecError(f'--model {spec.source}: an ONNX file runs through a runtime (open_model), '
                             'not as a PyTorch network')
    try:
        net = build_network(copy.deepcopy(spec.network))
    except (TypeError, ValueError) as err:
        raise ModelSpecError(f'{spec.source}: cannot build {spec.network.get("type")} with arguments '
                             f'{ {k: v for k, v in spec.network.items() if k != "type"} }: {err}') from None
    if spec.checkpoint:
        load_checkpoint(net, spec.checkpoint, key=spec.key, strict=spec.strict, reader=read_official_state_dict)
    return net.eval().to(device)
