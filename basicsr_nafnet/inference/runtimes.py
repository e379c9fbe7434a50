"""ONNX Runtime and OpenVINO as execution paths: an exported ``.onnx`` file run with the call contract of
:class:`~basicsr_nafnet.inference.InferenceRunner` (float32 N x C x H x W in, float32 N x C x H x W out, on the
input's device), so :func:`~basicsr_nafnet.inference.tiled_forward`, the self-ensemble, the leaderboard and
``scripts/deblur.py`` use them unchanged.

Both runtimes compute on the CPU, float32, with ``torch.get_num_threads()`` threads unless told otherwise (the
same threads the PyTorch paths use). OpenVINO is asked for float32 explicitly: on CPUs with bf16 instructions
it otherwise runs in bf16 (measured here: 4e-3 max abs difference instead of 3e-7).

The packages are optional (``pip install -e .[deploy]``) and imported only when used.
"""
import importlib
import os

import numpy as np
import torch

from ..errors import UserError, one_line

__all__ = ['DEPLOY_INSTALL', 'RUNTIMES', 'MissingPackageError', 'require', 'deploy_packages_missing',
           'check_onnx_file', 'onnx_parameter_count', 'RuntimeRunner', 'OnnxRuntimeRunner', 'OpenVINORunner',
           'make_runtime_runner']

DEPLOY_INSTALL = 'pip install -e .[deploy]'
# the execution paths an .onnx file can take, by the name --runtime uses
RUNTIMES = ('onnxruntime', 'openvino')
_DEPLOY_PACKAGES = ('onnx', 'onnxscript', 'onnxruntime', 'openvino')


class MissingPackageError(UserError):
    """An optional package (the ``deploy`` extra) is needed and not installed."""


def require(package, purpose):
    """Import an optional package, or raise :class:`MissingPackageError` saying what to install.

    Args:
        package (str): Module name (``onnx``, ``onnxscript``, ``onnxruntime``, ``openvino``).
        purpose (str): What needs it, for the message (e.g. 'exporting to ONNX').
    """
    try:
        return importlib.import_module(package)
    except ImportError:
        raise MissingPackageError(f"{purpose} needs the Python package '{package}', which is not installed: "
                                  f'{DEPLOY_INSTALL} (installs onnx, onnxscript, onnxruntime and openvino)') from None


def deploy_packages_missing(packages=_DEPLOY_PACKAGES):
    """Names of the ``deploy`` packages that cannot be imported here."""
    missing = []
    for name in packages:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def _first_line(err):
    text = one_line(err)
    return text[:300] if text else type(err).__name__


def check_onnx_file(path, key='--model'):
    """Refuse anything that is not an ONNX model with one float32 4-D input, naming the file.

    ``onnx.checker.check_model`` reads the file first: it rejects random bytes, text, truncated and empty files
    and protobufs that are not models (a runtime would print pages of parser noise for some of them).

    Args:
        path (str): The file.
        key (str): The option it came from, for the message.

    Returns:
        tuple: The input's dims as ints or names (e.g. ``('batch', 3, 'height', 'width')``).

    Raises:
        UserError: Missing, a folder, not a valid ONNX model, or an interface other than one float32 image input.
    """
    if not os.path.exists(path):
        raise UserError(f'{key} {path}: no such file')
    if os.path.isdir(path):
        raise UserError(f'{key} {path}: is a folder, not an .onnx file')
    onnx = require('onnx', f'reading {path}')
    try:
        onnx.checker.check_model(path)
        model = onnx.load(path, load_external_data=False)
    except Exception as err:  # ValidationError, DecodeError, OSError: all mean the file is unusable
        raise UserError(f'{key} {path}: not a valid ONNX model ({_first_line(err)})') from None
    initializers = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    described = []
    for value in inputs:
        tensor = value.type.tensor_type
        dims = tuple(d.dim_param or (d.dim_value if d.HasField('dim_value') else '?') for d in tensor.shape.dim)
        described.append((value.name, onnx.TensorProto.DataType.Name(tensor.elem_type), dims))
    if len(inputs) != 1 or len(model.graph.output) != 1 or described[0][1] != 'FLOAT' or len(described[0][2]) != 4:
        raise UserError(f'{key} {path}: expected one float32 N x C x H x W input and one output (an image network '
                        f'as scripts/export.py writes), found inputs {described} and {len(model.graph.output)} '
                        'output(s)')
    return described[0][2]


def onnx_parameter_count(path):
    """Number of weights stored in an ONNX file (its initializers; a fused network has slightly fewer)."""
    onnx = require('onnx', f'reading {path}')
    model = onnx.load(path, load_external_data=False)
    return int(sum(np.prod(init.dims, dtype=np.int64) for init in model.graph.initializer))


class RuntimeRunner:
    """An ``.onnx`` file run by a runtime: float32 N x C x H x W in, the same out, on the input's device.

    Subclasses open the runtime in ``_open`` and run one array in ``_run``.

    Args:
        path (str): The ``.onnx`` file (checked with :func:`check_onnx_file`).
        threads (int | None): Threads of the runtime; None: ``torch.get_num_threads()``.
        key (str): The option that named the file, for messages.
    """

    runtime = None

    def __init__(self, path, threads=None, key='--model'):
        self.path = path
        self.input_dims = check_onnx_file(path, key)
        self.threads = threads or torch.get_num_threads()
        try:
            self._open()
        except UserError:
            raise
        except Exception as err:  # e.g. an operator set the runtime does not know
            raise UserError(f'{key} {path}: {self.runtime} cannot load it ({_first_line(err)})') from None

    @property
    def device_name(self):
        """How leaderboard rows name where this runs."""
        return f'cpu ({self.threads} threads, {self.runtime})'

    def _open(self):
        raise NotImplementedError

    def _run(self, array):
        raise NotImplementedError

    def _check(self, x):
        if not torch.is_tensor(x) or x.dim() != 4:
            raise ValueError(f'expected an N x C x H x W tensor, got {type(x).__name__} '
                             f'of shape {tuple(getattr(x, "shape", ()))}')
        if x.dtype != torch.float32:  # OpenVINO would convert float64 or uint8 silently
            raise ValueError(f'expected a float32 input, got {x.dtype}')
        fixed = [(axis, size, int(got)) for axis, (size, got) in enumerate(zip(self.input_dims, x.shape))
                 if isinstance(size, int) and size != got]
        if fixed:
            raise ValueError(f'{self.path} takes inputs of shape {self.input_dims}, got {tuple(x.shape)} (a file '
                             'exported with --static runs one size; tile to it or export with dynamic sizes)')

    def __call__(self, x):
        self._check(x)
        array = np.ascontiguousarray(x.detach().to('cpu').numpy())
        out = self._run(array)
        return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32)).to(x.device)

    def __repr__(self):
        return f'{type(self).__name__}({self.path!r}, threads={self.threads})'


class OnnxRuntimeRunner(RuntimeRunner):
    """ONNX Runtime, CPU execution provider, all graph optimisations, sequential execution (its defaults otherwise)."""

    runtime = 'onnxruntime'

    def _open(self):
        ort = require('onnxruntime', f'running {self.path} with ONNX Runtime')
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(self.path, options, providers=['CPUExecutionProvider'])
        self._input = self._session.get_inputs()[0].name

    def _run(self, array):
        return self._session.run(None, {self._input: array})[0]


class OpenVINORunner(RuntimeRunner):
    """OpenVINO on the CPU, float32 inference precision, latency mode."""

    runtime = 'openvino'

    def _open(self):
        ov = require('openvino', f'running {self.path} with OpenVINO')
        self._compiled = ov.Core().compile_model(self.path, 'CPU', {
            'INFERENCE_NUM_THREADS': self.threads,
            'INFERENCE_PRECISION_HINT': 'f32',  # the default is bf16 where the CPU has bf16 instructions
            'PERFORMANCE_HINT': 'LATENCY',
        })

    def _run(self, array):
        return self._compiled(array)[0]  # outputs are copied out (share_outputs=False)


_RUNNERS = {'onnxruntime': OnnxRuntimeRunner, 'openvino': OpenVINORunner}


def make_runtime_runner(path, runtime='onnxruntime', threads=None, key='--model'):
    """A :class:`RuntimeRunner` for ``path`` on ``runtime`` (one of :data:`RUNTIMES`)."""
    if runtime not in _RUNNERS:
        raise UserError(f"unknown runtime '{runtime}'; choose one of: {', '.join(RUNTIMES)}")
    return _RUNNERS[runtime](path, threads=threads, key=key)
