"""Archs: importing this package registers every ``*_arch.py`` module's class in BasicSR's ARCH_REGISTRY."""
from basicsr_nafnet.registry import scan_and_import

_arch_modules = scan_and_import(__name__, __file__, '_arch.py')
