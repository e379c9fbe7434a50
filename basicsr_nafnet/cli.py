"""What every command of this project promises its user, in one place.

- A user error (a bad argument, option key, file, dataset, checkpoint or device) ends with one line
  on stderr, ``error: <the file or key and what is wrong>``, and exit status 2; no traceback.
- Ctrl-C ends with one line, ``interrupted: <what is kept>``, and exit status 130.
- A run that started and then met something the user can change (:class:`~basicsr_nafnet.errors.RunFailed`)
  ends with one line, ``error: <what to change and how to go on>``, and exit status 1.
- Anything else is a bug and keeps its traceback.
- A warning of this package (an unknown option key, a translated official key) is one line, ``warning: ...``.

Scripts are thin: an :class:`ArgumentParser`, checks of their arguments with the helpers below
(before anything is created, renamed or deleted), then library calls, all inside :func:`command`.
"""
import argparse
import contextlib
import functools
import math
import os
import re
import sys
import warnings

from .errors import RunFailed, UserError
from .fileio import check_component, is_inside

__all__ = [
    'EXIT_OK', 'EXIT_FAILED', 'EXIT_USAGE', 'EXIT_INTERRUPTED', 'ArgumentParser', 'command', 'one_line', 'describe',
    'shorten', 'say',
    'positive_int', 'non_negative_int', 'int_at_least', 'positive_float', 'non_negative_float', 'add_threads_argument',
    'apply_threads',
    'parse_device',
    'check_component', 'check_output_dir', 'check_output_file', 'is_inside'
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
MAX_DETAIL_LINES = 6
# a pasted value can be 100,000 characters long: an error line keeps its start and says how long it was
MAX_WORD_CHARS = 300
MAX_LINE_CHARS = 2000


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose usage errors are one line (``prog: error: ... (see --help)``), exit 2.

    The description keeps its line breaks (the scripts' docstrings hold examples).
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault('formatter_class', argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(EXIT_USAGE, f'{self.prog}: error: {shorten(message)} (see --help)\n')

    def parse_known_args(self, args=None, namespace=None):
        """argparse's, refusing an empty value given to an option whose default is not empty (``-o ''``):
        it would otherwise fail later as ``error: : No such file or directory``, naming nothing."""
        parsed, extras = super().parse_known_args(args, namespace)
        for action in self._actions:
            value = getattr(parsed, action.dest, None)
            values = value if isinstance(value, (list, tuple)) else [value]
            if action.default != '' and any(isinstance(v, str) and not v.strip() for v in values):
                name = '/'.join(action.option_strings) or action.dest
                self.error(f'argument {name}: an empty value; give a path or a value, or leave the option out')
        return parsed, extras


def shorten(text):
    """``text`` with every word longer than 300 characters cut to its start plus ``... (N characters)``, and the
    whole cut at 2,000 characters: a key stays readable, a pasted value does not fill the terminal."""

    def cut(match):
        word = match.group(0)
        return f"{word[:100]}... ({len(word)} characters)"

    text = re.sub(r'\S{%d,}' % (MAX_WORD_CHARS + 1), cut, str(text))
    if len(text) > MAX_LINE_CHARS:
        text = f'{text[:MAX_LINE_CHARS]}... ({len(text)} characters in all)'
    return text


def one_line(message):
    """A possibly multi-line message as one line: the first line, then up to six detail lines joined by '; ';
    long values cut (:func:`shorten`)."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    if not lines:
        return '(no message)'
    if len(lines) > MAX_DETAIL_LINES + 1:
        lines = lines[:MAX_DETAIL_LINES + 1] + [f'... and {len(lines) - MAX_DETAIL_LINES - 1} more']
    text = lines[0]
    for line in lines[1:]:  # a line ending in ':' introduces the next one; others are a list
        text += (' ' if text.endswith(':') else '; ') + line
    return shorten(text)


def say(line):
    """Write ``line`` and its newline to stderr in one write.

    ``print`` writes the text and the newline separately, so the lines of processes sharing a pipe (the ranks of a
    distributed run) could end up on one line, as ``error: ...error: ...``; one write of a line under the pipe's
    atomic size (4096 bytes; our lines are shorter, see ``MAX_LINE_CHARS``) is never split.
    """
    sys.stderr.write(line + '\n')
    sys.stderr.flush()


def describe(err):
    """The one-line text of a user error; an ``OSError`` as ``<file>: <reason>``."""
    if isinstance(err, OSError) and err.strerror and err.filename is not None:
        target = f' -> {err.filename2}' if err.filename2 is not None else ''
        return shorten(f'{err.filename}{target}: {err.strerror}')
    return one_line(err)


def command(interrupted='nothing half-written was left behind'):
    """Decorate a command's ``main(argv=None)`` so it keeps the contract above and returns its exit status.

    Args:
        interrupted (str | callable): What the Ctrl-C line says is kept; a callable gets no arguments.
    """

    def wrap(main):

        @functools.wraps(main)
        def run(argv=None, **kwargs):  # kwargs: e.g. prog, the name the dispatcher runs it under
            try:
                with _our_warnings_in_one_line():
                    status = main(argv, **kwargs)
            except SystemExit as stop:  # argparse: --help (0) or a usage error (2), already printed
                return stop.code if isinstance(stop.code, int) else EXIT_USAGE
            except KeyboardInterrupt:
                note = interrupted() if callable(interrupted) else interrupted
                say(f'interrupted: {note}')
                return EXIT_INTERRUPTED
            except (UserError, OSError) as err:
                say(f'error: {describe(err)}')
                return EXIT_USAGE
            except RunFailed as err:
                say(f'error: {one_line(err)}')
                return EXIT_FAILED
            return EXIT_OK if status is None else status

        return run

    return wrap


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


@contextlib.contextmanager
def _our_warnings_in_one_line():
    """Warnings this package raises print as ``warning: <message>`` (Python's form adds the file, line and source
    line, which say nothing to a user reading about an option key); other libraries' keep Python's form."""
    default = warnings.formatwarning

    def formatted(message, category, filename, lineno, line=None):
        if os.path.abspath(filename).startswith(_PACKAGE_DIR) and issubclass(category, UserWarning):
            return f'warning: {shorten(message)}\n'
        return default(message, category, filename, lineno, line)

    warnings.formatwarning = formatted
    try:
        yield
    finally:
        warnings.formatwarning = default


# ---------------------------------------------------------------------------- argparse types


def positive_int(text):
    """argparse type: an integer >= 1."""
    return _int_at_least(text, 1)


def non_negative_int(text):
    """argparse type: an integer >= 0."""
    return _int_at_least(text, 0)


def positive_float(text):
    """argparse type: a finite number > 0."""
    value = _number(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f'{text} is not a positive number')
    return value


def non_negative_float(text):
    """argparse type: a finite number >= 0."""
    value = _number(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f'{text} is not a finite number >= 0')
    return value


def _number(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None


def int_at_least(low):
    """argparse type factory: an integer >= ``low``."""
    return lambda text: _int_at_least(text, low)


def _int_at_least(text, low):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not an integer') from None
    if value < low:
        raise argparse.ArgumentTypeError(f'{value} is too small (at least {low})')
    return value


def add_threads_argument(parser):
    """``--threads N``: CPU threads of PyTorch and of the ONNX Runtime / OpenVINO runners (default: PyTorch's)."""
    parser.add_argument('--threads', type=positive_int, default=None,
                        help="CPU threads for inference (PyTorch, ONNX Runtime, OpenVINO; default: PyTorch's own)")


def apply_threads(threads):
    """Set PyTorch's thread count; the runtime runners default to it (``inference/runtimes.py``). None: unchanged."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


# ---------------------------------------------------------------------------- devices and paths


def parse_device(text, key='--device'):
    """The ``torch.device`` a ``--device`` value names, checked to exist here; None picks cuda if present, else cpu.

    Raises:
        UserError: Not a device name, or a device this machine does not have.
    """
    import torch

    if text is None:
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError, TypeError):
        raise UserError(f"{key} {text!r}: not a device name (cpu, cuda, cuda:1, ...)") from None
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise UserError(f'{key} {text}: CUDA is not available on this machine; use --device cpu')
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(f'{key} {text}: this machine has {torch.cuda.device_count()} CUDA device(s)')
    elif device.type != 'cpu':
        raise UserError(f'{key} {text}: only cpu and cuda devices are supported')
    return device


def _existing_ancestor(path):
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def check_output_dir(path, key='--output'):
    """An output folder: an existing folder, or a new one whose nearest existing parent is a writable folder."""
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise UserError(f'{key} {path}: exists and is not a folder')
        if not os.access(path, os.W_OK):
            raise UserError(f'{key} {path}: the folder is not writable')
        return path
    parent = _existing_ancestor(path)
    if not os.path.isdir(parent):
        raise UserError(f'{key} {path}: cannot create it, {parent} is a file')
    if not os.access(parent, os.W_OK):
        raise UserError(f'{key} {path}: cannot create it, {parent} is not writable')
    return path


def check_output_file(path, key='--out', suffixes=None):
    """An output file: not a folder, a writable place for it, and (if given) one of ``suffixes``."""
    if not path or path.endswith(('/', os.sep)) or os.path.isdir(path):
        raise UserError(f'{key} {path!r}: expected a file name, got a folder')
    if suffixes and not path.lower().endswith(tuple(suffixes)):
        raise UserError(f"{key} {path}: expected a {' or '.join(suffixes)} file")
    check_output_dir(os.path.dirname(os.path.abspath(path)), key)
    return path
