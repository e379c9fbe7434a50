"""Writing files: atomically, and only inside the output a command was given.

:func:`atomic_open` is the one way this project writes a file: a temporary file beside the target, flushed
to disk, renamed over it. A reader (or a resumed run) sees the old file or the complete new one, never
half of it, and an error or Ctrl-C while writing removes the temporary file instead of leaving it behind.
:func:`check_component` and :func:`is_inside` keep names that come from users or data inside an output;
:data:`IMAGE_EXTENSIONS` is the one list of image files the commands read.
"""
import contextlib
import os
import re
import uuid

from .errors import UserError

__all__ = ['IMAGE_EXTENSIONS', 'atomic_open', 'atomic_save', 'atomic_write', 'check_component', 'is_inside',
           'leftover_temporaries', 'remove_stale_temporaries', 'to_builtin']

# the image files every command reads (lower-case; compare with name.lower())
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')


@contextlib.contextmanager
def atomic_open(path, mode='wb', encoding=None, newline=None):
    """Open a temporary file beside ``path`` for writing; on a clean exit it is fsynced and renamed to ``path``.

    Args:
        path (str): The final file; its folder is created if needed.
        mode (str): 'wb' or 'w'.
        encoding, newline: As for :func:`open` in text mode (default encoding utf-8).

    Yields:
        file: The open temporary file.
    """
    if mode not in ('wb', 'w'):
        raise ValueError(f"atomic_open writes whole files: mode 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # unique per process and call; a leading dot keeps it out of folder listings and image globs
    tmp = os.path.join(folder, f'.{os.path.basename(path)}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp')  # see _TEMP_NAME
    text = mode == 'w'
    try:
        with open(tmp, 'x' if text else 'xb', encoding=(encoding or 'utf-8') if text else None,
                  newline=newline if text else None) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


# the temporary names atomic_open makes: .<final name>.<pid>-<8 hex digits>.tmp
_TEMP_NAME = re.compile(r'\..+\.(\d+)-[0-9a-f]{8}\.tmp')


def leftover_temporaries(folder, final_name=None):
    """Paths of :func:`atomic_open` temporaries in ``folder`` (what a ``kill -9`` during a write leaves).

    Only names of that exact pattern are listed, optionally only those whose final name matches the regular
    expression ``final_name``. Removing them is safe only while no other process writes into ``folder``
    (hold its :func:`~basicsr_nafnet.locks.output_lock`), or for those of dead processes
    (:func:`remove_stale_temporaries`).
    """
    if not os.path.isdir(folder):
        return []
    found = []
    for name in sorted(os.listdir(folder)):
        if _TEMP_NAME.fullmatch(name) and (final_name is None or re.fullmatch(
                final_name, name[1:].rsplit('.', 2)[0])):
            found.append(os.path.join(folder, name))
    return found


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(folder):
    """Remove the temporary files :func:`atomic_open` left in ``folder`` when its process was killed (``kill -9``
    runs no clean-up); those of live processes stay. Not recursive. Returns the names removed."""
    removed = []
    for path in leftover_temporaries(folder):
        pid = int(_TEMP_NAME.fullmatch(os.path.basename(path)).group(1))
        if pid != os.getpid() and not _alive(pid):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
                removed.append(os.path.basename(path))
    return sorted(removed)


def atomic_write(path, data):
    """Write ``data`` (bytes, or str as UTF-8 text) to ``path`` atomically; returns ``path``."""
    with atomic_open(path, 'w' if isinstance(data, str) else 'wb', newline='' if isinstance(data, str) else None) as f:
        f.write(data)
    return path


# file systems allow 255 bytes a name; run folders add suffixes (_archived_<time>, .log) to the name
MAX_NAME_BYTES = 200


def check_component(value, key):
    """A name that becomes one file or folder name inside an output (a run name, a suffix, an image key).

    Raises:
        UserError: Not a non-empty string, or it holds a path separator, is '.' or '..', or holds a NUL.
    """
    if not isinstance(value, str) or not value.strip():
        raise UserError(f'{key}: expected a non-empty name, got {value!r:.80}')
    if len(value.encode('utf-8', 'surrogateescape')) > MAX_NAME_BYTES:
        raise UserError(f'{key}: {value[:40]!r}... is {len(value)} characters long; a file or folder name holds at '
                        f'most {MAX_NAME_BYTES} bytes')
    if '/' in value or '\\' in value or os.sep in value or '\0' in value or value in ('.', '..'):
        raise UserError(f"{key}: {value!r} must be a single file or folder name (no '/', '\\', '.' or '..'), "
                        'so that everything it names stays inside the output')
    return value


def is_inside(path, folder):
    """True when ``path`` is ``folder`` or lies under it (symbolic links resolved)."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def to_builtin(obj):
    """Numpy scalars (what ``calculate_psnr`` returns) become Python numbers, so ``weights_only`` loads."""
    if isinstance(obj, dict):
        return type(obj)((k, to_builtin(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_builtin(v) for v in obj)
    import numpy as np  # here, not at the top: the ground floor stays light to import
    import torch

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj)
    return obj


def atomic_save(obj, path):
    """``torch.save`` to a temporary file beside ``path``, flushed to disk, then renamed over ``path``."""
    import torch

    with atomic_open(path, 'wb') as f:
        try:
            torch.save(to_builtin(obj), f)
        except RuntimeError as err:
            # Ctrl-C inside torch.save: its zip writer's clean-up then fails on the half-written record, and that
            # RuntimeError would replace the KeyboardInterrupt (a traceback instead of the one-line interruption)
            if isinstance(err.__context__, KeyboardInterrupt):
                raise err.__context__ from None
            raise
