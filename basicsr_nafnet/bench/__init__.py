"""Benchmarks, on top of everything else: ``timing`` (interleaved medians, peak memory, the matmul yardstick),
``configs`` (GoPro and tiny configurations), ``speed`` (every arch per execution path, training steps, tiled 4K),
``layernorm`` (LayerNorm2d's memory), ``data`` (conversion and read speed) and ``report`` (markdown, JSON).
Measured numbers go to ``docs/benchmarks/``; the scripts under ``scripts/`` are their command lines.
"""
