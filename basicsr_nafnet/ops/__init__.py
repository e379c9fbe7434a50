"""Pure tensor helpers that training (validation) and inference both use: tiled whole-frame inference.

Floor 1 of the house: imports nothing of ours but the ground floor, so ``models/`` and ``inference/`` can share it.
"""
