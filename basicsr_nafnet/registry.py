"""Registering into BasicSR's registries without crashing on a second import.

BasicSR's ``Registry.register`` asserts that a name is new. A module of ours can be imported twice
(``python basicsr_nafnet/train.py`` next to ``import basicsr_nafnet``, a reload, a test importing a
file by path), which would re-register the same class. :func:`register` treats that as a no-op and
reports a real clash, another package holding the name, with the package's name.
"""
import importlib
import inspect
import os

__all__ = ['RegistryClashError', 'register', 'scan_and_import']


class RegistryClashError(KeyError):
    """A registry name we want is already held by a different object."""

    def __str__(self):  # KeyError would print the message with quotes around it
        return str(self.args[0])


def _defining_file(obj):
    """The file an object's code was compiled from, also for modules missing from ``sys.modules``."""
    code = getattr(obj, '__code__', None)
    if code is None and inspect.isclass(obj):
        code = next((v.__code__ for v in vars(obj).values() if hasattr(v, '__code__')), None)
    if code is not None:
        return os.path.realpath(code.co_filename)
    try:
        path = inspect.getsourcefile(obj)
    except TypeError:  # built-ins, or a module that is not in sys.modules
        path = None
    return os.path.realpath(path) if path else None


def _same_definition(a, b):
    """True for one definition imported twice: same qualified name and the same source file (or, where
    the file cannot be told, the same module file name)."""
    if a is b:
        return True
    if a.__qualname__ != b.__qualname__:
        return False
    file_a, file_b = _defining_file(a), _defining_file(b)
    if file_a and file_b:
        return file_a == file_b
    return a.__module__.rsplit('.', 1)[-1] == b.__module__.rsplit('.', 1)[-1]


def register(registry):
    """Decorator: register a class or function in a BasicSR ``Registry`` under its ``__name__``."""

    def deco(obj):
        name = obj.__name__
        if name in registry:
            held = registry.get(name)
            if not _same_definition(held, obj):
                package = (getattr(held, '__module__', None) or '?').split('.')[0]
                raise RegistryClashError(
                    f"cannot register {obj.__module__}.{obj.__qualname__} as '{name}' in BasicSR's "
                    f"{registry._name} registry: the name is already held by package '{package}' "
                    f"({held.__module__}.{held.__qualname__}). Rename one of them.")
            return obj
        registry.register(obj)
        return obj

    return deco


def scan_and_import(package_name, package_file, suffix):
    """Import every module of a package whose file name ends with ``suffix`` (BasicSR's convention)."""
    folder = os.path.dirname(os.path.abspath(package_file))
    names = sorted(f[:-3] for f in os.listdir(folder) if f.endswith(suffix))
    return [importlib.import_module(f'{package_name}.{name}') for name in names]
