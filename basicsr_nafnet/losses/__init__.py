"""Losses: importing this package registers every ``*_loss.py`` module's class in BasicSR's LOSS_REGISTRY."""
from basicsr_nafnet.registry import scan_and_import

_loss_modules = scan_and_import(__name__, __file__, '_loss.py')
