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
* ``net.onnx``: a network exported by ``scripts/export.py``, run by ONNX Runtime (or OpenVINO); rows are
  named after the file.

How a spec runs (:func:`make_runner`): PyTorch specs on the execution paths of
:func:`~basicsr_nafnet.inference.prepare_for_inference`, or, with ``runtime='onnxruntime'|'openvino'``, exported
once to ONNX and run there. The export is cached beside the checkpoint as ``<checkpoint stem>.<16 hex>.onnx``,
the hex digits a hash of the weights as loaded, the arch options and the exporter's versions, so a changed
checkpoint or option gets a new file and an unchanged one is never exported again.
"""
import copy
import hashlib
import json
import os
import tempfile
from collections import namedtuple

import torch
import yaml

from ..engine.checkpoint import load_checkpoint
from ..engine.options import OPTION_SUFFIXES, load_options, project_option_files
from ..errors import UserError
from ..inference import prepare_for_inference
from ..inference.export import VERIFY_SIZES, VerificationError, export_onnx, verify_onnx
from ..inference.runtimes import RUNTIMES, check_onnx_file, make_runtime_runner
from ..version import __version__

__all__ = ['ModelSpecError', 'ModelSpec', 'RUNTIME_CHOICES', 'parse_model_spec', 'build_model', 'check_runtime',
           'check_export_cache', 'export_cache_path', 'make_runner']

ModelSpec = namedtuple('ModelSpec', ['name', 'network', 'checkpoint', 'key', 'strict', 'source', 'onnx'],
                       defaults=(None, ))
ModelSpec.__doc__ = ('A network to evaluate: display name, ``network_g`` dict, checkpoint path (or None), '
                     'weights key (or None for automatic), strict loading, the spec it came from, and the '
                     '``.onnx`` file for an exported network (then ``network`` and ``checkpoint`` are None).')

# how --runtime names the execution paths; 'torch' is PyTorch (the default for PyTorch specs)
RUNTIME_CHOICES = ('torch', ) + RUNTIMES
_EXPORT_CACHE_FORMAT = 1  # bump when the exported graph of the same weights changes


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

    if spec.lower().endswith('.onnx') and '@' not in spec:
        if not os.path.isfile(spec):
            raise ModelSpecError(f'--model {spec}: ONNX file not found')
        check_onnx_file(spec, '--model')
        return ModelSpec(os.path.basename(spec), None, None, None, True, spec, spec)
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

    if spec.onnx:
        raise ModelSpecError(f'--model {spec.source}: an ONNX file runs through a runtime (make_runner), '
                             'not as a PyTorch network')
    try:
        net = build_network(copy.deepcopy(spec.network))
    except (TypeError, ValueError) as err:
        raise ModelSpecError(f'{spec.source}: cannot build {spec.network.get("type")} with arguments '
                             f'{ {k: v for k, v in spec.network.items() if k != "type"} }: {err}') from None
    if spec.checkpoint:
        load_checkpoint(net, spec.checkpoint, key=spec.key, strict=spec.strict)
    return net.eval().to(device)


def check_runtime(specs, runtime=None, precision='fp32', compile=False):
    """Refuse combinations of specs and options that cannot run, before anything is loaded or written.

    Args:
        specs (list[ModelSpec]): The parsed specs.
        runtime (str | None): ``--runtime``: None (PyTorch, or ONNX Runtime for ``.onnx`` specs) or one of
            :data:`RUNTIME_CHOICES`.
        precision (str), compile (bool): The PyTorch path options (``--precision``/``--bf16``/``--half``,
            ``--compile``); the runtimes run float32 and compile themselves.
    """
    if runtime is not None and runtime not in RUNTIME_CHOICES:
        raise ModelSpecError(f"--runtime {runtime!r}: choose one of {', '.join(RUNTIME_CHOICES)}")
    onnx_specs = [s.source for s in specs if s.onnx]
    if runtime == 'torch' and onnx_specs:
        raise ModelSpecError(f'--runtime torch: {onnx_specs[0]} is an ONNX file; run it with --runtime onnxruntime '
                             'or openvino')
    if runtime in RUNTIMES or onnx_specs:
        what = f'--runtime {runtime}' if runtime in RUNTIMES else f'--model {onnx_specs[0]} (an ONNX file)'
        if precision != 'fp32':
            raise ModelSpecError(f'{what} runs float32; {precision} is a PyTorch execution path (leave it out, '
                                 'or run a PyTorch spec without --runtime)')
        if compile:
            raise ModelSpecError(f'{what}: --compile is for PyTorch (the runtime optimises the graph itself)')


def _weights_digest(net):
    """sha256 of every tensor of the state dict in order: the weights as loaded, whatever file they came from."""
    digest = hashlib.sha256()
    for name, tensor in net.state_dict().items():
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f'{name}:{flat.dtype}:{tuple(tensor.shape)};'.encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def export_cache_path(spec, net, extra=None):
    """Where the ONNX export of ``net`` (built from ``spec``) is cached: beside the checkpoint, or None without one.

    Args:
        spec (ModelSpec): A PyTorch spec.
        net (nn.Module): The network built from it (its weights are hashed); a TLC copy for the TLC row.
        extra (dict | None): What else changes the network (e.g. ``{'tlc_train_size': 256}``).

    Returns:
        str | None: ``<folder of the checkpoint>/<checkpoint stem>.<16 hex digits>.onnx``.
    """
    if not spec.checkpoint:
        return None
    options = dict(network=spec.network, extra=extra, format=_EXPORT_CACHE_FORMAT, basicsr_nafnet=__version__,
                   torch=torch.__version__)
    key = hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode())
    key.update(_weights_digest(net).encode())
    stem = os.path.splitext(os.path.basename(spec.checkpoint))[0]
    return os.path.join(os.path.dirname(os.path.abspath(spec.checkpoint)), f'{stem}.{key.hexdigest()[:16]}.onnx')


def check_export_cache(spec, net, extra=None):
    """Refuse a cache place that cannot be written, before anything is exported (None: nothing to check)."""
    path = export_cache_path(spec, net, extra)
    if path and not os.path.isfile(path) and not os.access(os.path.dirname(path), os.W_OK):
        raise ModelSpecError(f'--runtime: the export cache beside {spec.checkpoint} cannot be written '
                             f'({os.path.dirname(path)} is not writable); export with scripts/export.py --out '
                             'elsewhere and pass that .onnx file as --model')
    return path


def _export_for_runtime(spec, net, path, log):
    try:
        info = export_onnx(net, path, name=spec.name, verify=lambda tmp: verify_onnx(net, tmp, VERIFY_SIZES),
                           metadata=dict(source=spec.source))
    except VerificationError as err:
        raise ModelSpecError(f'--model {spec.source}: the ONNX export was not kept: {err}') from None
    if log:
        log(f"{spec.name}: exported to {path} in {info['seconds']:.0f} s (verified against PyTorch)")
    return info


def make_runner(spec, net=None, runtime=None, precision='fp32', compile=False, extra=None, log=None):
    """The callable that runs a spec: float32 N x C x H x W in and out, with tiling and the ensemble on top.

    Args:
        spec (ModelSpec): The spec.
        net (nn.Module | None): The network built from a PyTorch spec (a TLC copy for the TLC row); unused
            for ``.onnx`` specs.
        runtime (str | None): None or 'torch' (PyTorch; ONNX Runtime for ``.onnx`` specs), 'onnxruntime' or
            'openvino'.
        precision (str), compile (bool): The PyTorch path (see :func:`~basicsr_nafnet.inference.prepare_for_inference`).
        extra (dict | None): What distinguishes ``net`` from the spec's own network, for the export cache key.
        log (callable | None): Receives a line when a network is exported.

    Returns:
        callable: An ``InferenceRunner`` or a :class:`~basicsr_nafnet.inference.runtimes.RuntimeRunner`.
    """
    if spec.onnx:
        return make_runtime_runner(spec.onnx, runtime if runtime in RUNTIMES else 'onnxruntime')
    if runtime in (None, 'torch'):
        return prepare_for_inference(net, precision, compile=compile)
    path = check_export_cache(spec, net, extra)
    if path is None:  # no checkpoint (random weights): nothing to key a cache by; the session outlives the file
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, 'network.onnx')
            if log:
                log(f'{spec.name}: exporting for {runtime} (no checkpoint, so not cached)')
            _export_for_runtime(spec, net, path, None)
            return make_runtime_runner(path, runtime, key='exported file')
    if not os.path.isfile(path):
        if log:
            log(f'{spec.name}: exporting to ONNX for {runtime}, once (cached as {path})')
        _export_for_runtime(spec, net, path, log)
    return make_runtime_runner(path, runtime, key='cached export')
