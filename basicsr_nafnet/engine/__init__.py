"""How BasicSR runs here: registration, safe options and their checks, the train/test pipelines, distributed
set-up, resumable sampling, and checkpoints read and written.

The engine imports none of the archs, losses, metrics or models: it reaches them through BasicSR's
registries, so the registry surface can use :mod:`.registry` and :mod:`.checkpoint` from below. Import the
modules themselves (``basicsr_nafnet.engine.pipeline``, ...); this package imports nothing eagerly.
"""
