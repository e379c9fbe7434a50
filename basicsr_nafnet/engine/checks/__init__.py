"""The option checks, one module per concern; :func:`basicsr_nafnet.engine.option_check.validate_options` runs them all.

``values``: numbers, booleans, sections and registry names (the primitives the others use); ``network``: the
network and the checkpoint it loads; ``datasets``: dataset options and one batch of data; ``training``: the
``train`` section (optimizer, scheduler, losses, autocast, read from the model's rules); ``run``: the experiment
name, model type, logger, launcher and the ``val`` section.
"""
