"""The one base class of errors a user can fix: a bad argument, option, file, dataset or checkpoint.

Library functions raise a subclass with a message that names the file or key and what is wrong;
the command-line tools (:mod:`basicsr_nafnet.cli`) print that message as one line and exit 2. Any
other exception is a bug and keeps its traceback. ``UserError`` is a ``ValueError``, so code that
caught ``ValueError`` before still does. :class:`RunFailed` is the one kind of failure met after a run
started (a damaged image reached mid-training): one line too, but exit status 1, and what the run saved stays.
"""
import contextlib

__all__ = ['UserError', 'RunFailed', 'reported_as', 'one_line']


class UserError(ValueError):
    """Input that cannot be used, with a message naming the file or key and what is wrong."""


class RunFailed(Exception):
    """A run that started and then stopped on something the user can change; the message says what, and how to go on.

    Not a :class:`UserError`: those come before anything is created. Commands print it as one line, exit 1.
    """


def one_line(text, limit=None):
    """``text`` (an exception, or any object's ``str``) with its white space runs, newlines included, as one space;
    cut to ``limit`` characters when given. Messages printed as one line quote other libraries' errors with it."""
    line = ' '.join(str(text).split())
    return line if limit is None else line[:limit]


@contextlib.contextmanager
def reported_as(what, fix):
    """Turn a failure of a part the user configured (a metric, a logger back-end) into a :class:`RunFailed`.

    Used around calls into code the option checks cannot try before the run starts; the line names ``what``
    (an option key), the exception's type and first words, then ``fix``. The original exception stays chained
    for debuggers. ``UserError``/``RunFailed`` and non-``Exception`` exits (Ctrl-C) pass through unchanged.

    Args:
        what (str): The part that failed, naming its option key, e.g. ``'val.metrics.psnr (calculate_psnr)'``.
        fix (str): What the user can change.
    """
    try:
        yield
    except (UserError, RunFailed):
        raise
    except Exception as err:
        detail = one_line(err, 300) or '(no message)'
        raise RunFailed(f'{what} failed ({type(err).__name__}: {detail}); {fix}') from err
