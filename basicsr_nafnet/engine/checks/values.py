"""Checks of single option values (integers, numbers, booleans, mappings, registered names) that collect problems."""
import math
import numbers

from ...errors import one_line

__all__ = ['Problems', 'check_int', 'check_number', 'check_bool', 'section', 'registered', 'try_build']


class Problems(list):
    """Collects ``key: what is wrong`` lines."""

    def add(self, key, message):
        self.append(f'{key}: {message}')


def _is_int(value):
    """An integer, or a float with an integral value (``4e5``); not a bool."""
    if isinstance(value, bool):
        return False
    return isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())


def check_int(problems, node, key, path, low=None, high=None, required=False, exact=False):
    """``node[key]`` an integer within [low, high]; ``exact``: a float such as ``4.0`` is refused too (for values
    BasicSR passes on without ``int()``, to ``range`` or slicing)."""
    if key not in node or node[key] is None:
        if required:
            problems.add(path, 'missing (an integer)')
        return
    value = node[key]
    if not _is_int(value) or (exact and not isinstance(value, numbers.Integral)):
        problems.add(path, f'expected an integer, got {value!r}')
    elif low is not None and value < low:
        problems.add(path, f'must be at least {low}, got {value!r}')
    elif high is not None and value > high:
        problems.add(path, f'must be at most {high}, got {value!r}')


def check_number(problems, node, key, path, low=None, high=None, required=False, null=True):
    """``node[key]`` a finite number within [low, high]; ``null=False``: a key given as null is refused (for values
    read with ``.get(key, default)``, where null does not mean the default)."""
    if key in node and node[key] is None and not null:
        problems.add(path, 'expected a number, got null (leave the key out for its default)')
        return
    if key not in node or node[key] is None:
        if required:
            problems.add(path, 'missing (a number)')
        return
    value = node[key]
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
        problems.add(path, f'expected a number, got {value!r}')
    elif (low is not None and value < low) or (high is not None and value > high):
        problems.add(path, f'must be within [{low}, {high}], got {value!r}')


def check_bool(problems, node, key, path, required=False):
    if key not in node or node[key] is None:
        if required:
            problems.add(path, 'missing (true or false)')
        return
    if not isinstance(node[key], bool):
        problems.add(path, f'expected true or false, got {node[key]!r}')


def section(problems, opt, key, path, required=False):
    """``opt[key]`` when it is a mapping; None (with a problem if required or not a mapping) otherwise."""
    value = opt.get(key)
    if value is None:
        if required:
            problems.add(path, 'missing (a mapping of options)')
        return None
    if not isinstance(value, dict):
        problems.add(path, f'expected a mapping of options, got {value!r}')
        return None
    return value


def registered(problems, registry, name, path, what):
    if not isinstance(name, str) or name not in registry:
        known = ', '.join(sorted(n for n, _ in registry))
        problems.add(path, f'{name!r} is not a registered {what} (known: {known})')
        return False
    return True


def try_build(problems, key, build):
    """``build()``, or None with the constructor's complaint recorded under ``key``."""
    try:
        return build()
    except Exception as err:  # the constructor's own checks of its arguments
        problems.add(key, f"{type(err).__name__}: {one_line(err)}")
        return None
