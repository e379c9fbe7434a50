"""The one base class of errors a user can fix: a bad argument, option, file, dataset or checkpoint.

Library functions raise a subclass with a message that names the file or key and what is wrong;
the command-line tools (:mod:`basicsr_nafnet.cli`) print that message as one line and exit 2. Any
other exception is a bug and keeps its traceback. ``UserError`` is a ``ValueError``, so code that
caught ``ValueError`` before still does.
"""

__all__ = ['UserError']


class UserError(ValueError):
    """Input that cannot be used, with a message naming the file or key and what is wrong."""
