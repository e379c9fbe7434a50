"""One way from a model spec to a runner: :func:`open_model` parses, builds, loads the weights, checks the export
cache and chooses the runtime, once; the runner it gives runs float32 N x C x H x W in and out.

The runtime rule lives here (:func:`runtime_for`): a PyTorch spec runs in PyTorch on the execution paths of
:func:`~basicsr_nafnet.inference.prepare_for_inference` unless ``runtime`` names ONNX Runtime or OpenVINO (then it
is exported once, cached beside its checkpoint, see :mod:`~basicsr_nafnet.inference.export_cache`); an ``.onnx``
spec runs on ONNX Runtime unless ``runtime`` says OpenVINO. ``runtime='auto'`` measures the exact candidates on
this machine for the job's size and remembers the choice (:mod:`~basicsr_nafnet.inference.runtime_choice`).
"""
import os
import tempfile

from ..errors import UserError
from .export_cache import check_export_cache, export_cached
from .paths import prepare_for_inference
from .runtime_choice import AUTO, choose_runtime
from .runtimes import RUNTIMES, make_runtime_runner
from .spec import ModelSpecError, build_model, parse_model_spec

__all__ = ['RUNTIME_CHOICES', 'runtime_for', 'check_runtime', 'OpenedModel', 'open_model']

# how --runtime names the execution paths; 'torch' is PyTorch, 'auto' the fastest exact one measured here
RUNTIME_CHOICES = (AUTO, 'torch') + RUNTIMES
_UNCHECKED = object()  # the export cache path is looked up (weights hashed) when a runtime first needs it


def runtime_for(spec, runtime=None):
    """The runtime ``spec`` runs on for ``--runtime runtime``: None (PyTorch), 'onnxruntime' or 'openvino'."""
    if runtime in RUNTIMES:
        return runtime
    return 'onnxruntime' if spec.onnx else None


def check_runtime(specs, runtime=None, precision='fp32', compile=False):
    """Refuse combinations of specs and options that cannot run, before anything is loaded or written.

    Args:
        specs (list[ModelSpec]): The parsed specs.
        runtime (str | None): ``--runtime``: None (PyTorch, or ONNX Runtime for ``.onnx`` specs) or one of
            :data:`RUNTIME_CHOICES` ('auto' is PyTorch where the runtimes cannot serve: other precisions, compile).
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


class OpenedModel:
    """A model opened by :func:`open_model`: the spec, its PyTorch network, the runtime used, and its runner.

    Attributes:
        spec (ModelSpec): What was opened. name (str): Its display name (``spec.name``).
        checkpoint (str | None): The weights file, or the ``.onnx`` file.
        net (nn.Module | None): The PyTorch network with its weights (None for an ``.onnx`` spec); on the device
            when it runs in PyTorch, on the CPU when it is exported.
        runtime (str | None): None (PyTorch), 'onnxruntime' or 'openvino'.
    """

    def __init__(self, spec, net, runtime, precision, compile, cache_path, log):
        self.spec, self.net, self.runtime = spec, net, runtime
        self.name, self.checkpoint = spec.name, spec.checkpoint or spec.onnx
        self._precision, self._compile, self._cache_path, self._log = precision, compile, cache_path, log
        self._runner = self._scratch = None

    @property
    def runner(self):
        """The runner of :attr:`net` as opened (made at first use, then kept): exporting can take a minute."""
        if self._runner is None:
            self._runner = self.runner_for()
        return self._runner

    def runner_for(self, net=None, extra=None):
        """A new runner for ``net`` (default: :attr:`net`), a variant of it (e.g. its TLC copy), on the same runtime.

        Args:
            net (nn.Module | None): The network to run; None: the one opened.
            extra (dict | None): What distinguishes ``net`` from the spec's own network, for the export cache key.

        Returns:
            callable: An :class:`~basicsr_nafnet.inference.InferenceRunner` or a
            :class:`~basicsr_nafnet.inference.runtimes.RuntimeRunner`.
        """
        spec = self.spec
        if spec.onnx:
            return make_runtime_runner(spec.onnx, self.runtime)
        own = net is None or net is self.net
        net = self.net if net is None else net
        if self.runtime is None:
            return prepare_for_inference(net, self._precision, compile=self._compile)
        path = self._export_path() if own else check_export_cache(spec, net, extra)
        if path is None:  # no checkpoint (random weights): nothing to key a cache by; the session outlives the file
            if not own or self._scratch is None:
                scratch = tempfile.TemporaryDirectory()
                if own:  # kept while the model is open, so a second runtime (auto measures two) reuses the export
                    self._scratch = scratch
            else:
                scratch = self._scratch
            target = os.path.join(scratch.name, 'network.onnx')
            if self._log and not os.path.isfile(target):
                self._log(f'{spec.name}: exporting for {self.runtime} (no checkpoint, so not cached)')
            try:
                return make_runtime_runner(export_cached(spec, net, target, self.runtime), self.runtime,
                                           key='exported file')
            finally:
                if scratch is not self._scratch:
                    scratch.cleanup()
        return make_runtime_runner(export_cached(spec, net, path, self.runtime, self._log), self.runtime,
                                   key='cached export')

    def _export_path(self):
        """The export cache path of :attr:`net` (its weights hashed once, whichever runtimes read it)."""
        if self._cache_path is _UNCHECKED:
            self._cache_path = check_export_cache(self.spec, self.net)
        return self._cache_path

    def on_runtime(self, runtime):
        """Switch to ``runtime`` (None: PyTorch), checking its export cache (once); returns self."""
        self.runtime, self._runner = runtime, None
        if runtime is not None and self.net is not None:
            self._export_path()
        return self

    def _choose(self, workload):
        """Measure (or recall) the fastest exact runtime for ``workload`` and switch to it."""
        chosen, runner = choose_runtime(self.spec, self.net, workload,
                                        lambda name: self.on_runtime(name).runner_for(), log=self._log)
        self.on_runtime(chosen)._runner = runner

    def __repr__(self):
        return f'OpenedModel({self.name!r}, runtime={self.runtime or "torch"}, checkpoint={self.checkpoint!r})'


def open_model(spec, device='cpu', runtime=None, precision='fp32', compile=False, needs_weights=None, log=None,
               workload=None):
    """Open a model spec: parse, build, load the weights, check the export cache, choose the runtime (once each).

    Every check runs here, before anything long (exporting, running) starts; the runner itself is made at the
    first use of :attr:`OpenedModel.runner`.

    Args:
        spec (str | dict | ModelSpec): See :func:`~basicsr_nafnet.inference.spec.parse_model_spec`.
        device (str | torch.device): Where a PyTorch network runs (an exported one runs on the CPU).
        runtime (str | None): None or 'torch' (PyTorch; ONNX Runtime for ``.onnx`` specs), 'onnxruntime',
            'openvino', or 'auto': the fastest of them measured on this machine for ``workload`` (PyTorch on a GPU,
            with another precision than float32 or with ``compile``).
        precision (str), compile (bool): The PyTorch path (see :func:`~basicsr_nafnet.inference.prepare_for_inference`).
        needs_weights (str | None): What the caller does (e.g. 'deblurring'): then a spec without trained weights
            is refused.
        log (callable | None): Receives a line when a network is exported, and the line of an 'auto' choice.
        workload (Workload | None): What the job runs, for ``runtime='auto'`` (see
            :class:`~basicsr_nafnet.inference.runtime_choice.Workload`); None: a remembered choice or PyTorch.

    Returns:
        OpenedModel: The spec, the network, the runtime used and the runner.
    """
    spec = parse_model_spec(spec)
    if needs_weights and not spec.checkpoint and not spec.onnx:
        raise UserError(f'--model {spec.source!r}: {needs_weights} needs trained weights (ARCH@checkpoint.pth)')
    check_runtime([spec], runtime, precision, compile)
    import torch

    auto = runtime == AUTO
    if auto:
        measurable = torch.device(device).type == 'cpu' and precision == 'fp32' and not compile
        runtime = None
    used = runtime_for(spec, runtime)
    net = None if spec.onnx else build_model(spec, device if used is None else 'cpu')
    cache_path = check_export_cache(spec, net) if net is not None and used else _UNCHECKED
    opened = OpenedModel(spec, net, used, precision, compile, cache_path, log)
    if auto and measurable:
        opened._choose(workload)
    return opened
