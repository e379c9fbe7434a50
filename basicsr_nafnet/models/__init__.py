"""Models: importing this package registers every ``*_model.py`` module's class in BasicSR's MODEL_REGISTRY."""
from basicsr_nafnet.registry import scan_and_import

_model_modules = scan_and_import(__name__, __file__, '_model.py')
