"""How BasicSR runs here: safe options and their checks, the train/test pipelines, distributed
set-up, resumable sampling, and checkpoints read and written.

The engine sits above the archs, losses, metrics and models (floor 4; see tests/test_layout.py): it builds
them through BasicSR's registries and reads the model's rules (``models/rules.py``) directly. Import the
modules themselves (``basicsr_nafnet.engine.pipeline``, ...); this package imports nothing eagerly.
"""
