"""Downloading a large file (a dataset archive, a checkpoint) with resume, checksum and a lock, only when asked.

The file is streamed to ``<dest>.partial``; after an interruption the next call asks the server for
the rest with an HTTP ``Range`` request (and starts over if the server ignores it). The size and
SHA-256 are checked, when known, before the file is renamed into place, so ``dest`` only ever holds
a complete, verified download. ``<dest>.lock`` (:mod:`basicsr_nafnet.locks`) keeps two processes from writing
the same file; with ``record_sha256`` the SHA-256 is kept in ``<dest>.sha256`` and a later change is refused.
A server that cannot be reached fails at once with :class:`OfflineError` (a short connect timeout, no retries).
Weights are cached in :func:`cache_dir` (torch hub's convention, or ``$BASICSR_NAFNET_CACHE``).
"""
import hashlib
import http.client
import http.cookiejar
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

from tqdm import tqdm

from ..fileio import atomic_write
from ..locks import output_lock
from .gdrive import confirm_url

__all__ = ['download', 'DownloadError', 'OfflineError', 'sha256_of', 'cache_dir', 'CACHE_ENV', 'file_lock',
           'recorded_sha256_path', 'verify_recorded_sha256']

CHUNK = 1 << 20
CACHE_ENV = 'BASICSR_NAFNET_CACHE'
MAX_PAGE = 1 << 20  # a confirmation page is a few kB; never read a wrongly typed large file into memory


class DownloadError(IOError):
    """A transfer that failed, was cut short, or produced a file with the wrong size or checksum."""

    retry = True  # whether another attempt can help


class OfflineError(DownloadError):
    """The server could not be reached at all (no network, unknown host, refused, connect timeout)."""

    retry = False


class _NotTheFile(DownloadError):
    """The server answered with a web page that holds no download token."""

    retry = False


def cache_dir():
    """Where downloaded weights live: ``$BASICSR_NAFNET_CACHE``, else torch hub's ``<hub dir>/checkpoints``.

    The default follows ``torch.hub`` (``$TORCH_HOME/hub/checkpoints``, by default ``~/.cache/torch/hub/checkpoints``),
    so a checkpoint fetched by another tool with the same file name is found too.
    """
    folder = os.environ.get(CACHE_ENV)
    if folder:
        return os.path.abspath(os.path.expanduser(folder))
    import torch.hub  # here, not at the top: importing this module stays light

    return os.path.join(torch.hub.get_dir(), 'checkpoints')


def file_lock(path, progress=True):
    """Wait for, then hold, the lock file ``path`` (:func:`basicsr_nafnet.locks.output_lock`; removed on release)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    say = (lambda line: print(line, file=sys.stderr)) if progress else None
    return output_lock(path, path[:-len('.lock')] if path.endswith('.lock') else path, wait=True, announce=say)


def recorded_sha256_path(dest):
    """The file beside ``dest`` that records its SHA-256 (``sha256sum`` format)."""
    return os.fspath(dest) + '.sha256'


def _read_recorded(dest):
    path = recorded_sha256_path(dest)
    if not os.path.exists(path):
        return None
    with open(path, encoding='utf-8') as f:
        fields = f.read().split()
    if not fields or not re.fullmatch(r'[0-9a-fA-F]{64}', fields[0]):
        raise DownloadError(f'{path}: not a SHA-256 record (64 hex digits); delete it to record the file again')
    return fields[0].lower()


def _record(dest, digest):
    atomic_write(recorded_sha256_path(dest), f'{digest}  {os.path.basename(dest)}\n')


def verify_recorded_sha256(dest, sha256=None, progress=False, record=True):
    """Check a complete ``dest`` against ``sha256`` and against the SHA-256 recorded beside it.

    Args:
        dest (str): The file.
        sha256 (str | None): Expected hex SHA-256 (e.g. from the zoo), if known.
        progress (bool): Show a progress bar while hashing.
        record (bool): Record the SHA-256 beside the file when nothing is recorded yet.

    Returns:
        str: The file's SHA-256.

    Raises:
        DownloadError: One line naming the file, when it does not match.
    """
    actual = sha256_of(dest, progress).lower()
    recorded = _read_recorded(dest)
    if sha256 is not None and actual != sha256.lower():
        raise DownloadError(f'{dest}: SHA-256 {actual} is not the expected {sha256.lower()}; '
                            'delete it to download it again')
    if recorded is not None and actual != recorded:
        raise DownloadError(f'{dest}: SHA-256 {actual} differs from {recorded} recorded in '
                            f'{recorded_sha256_path(dest)} when it was downloaded; the file changed since: '
                            'delete both to download it again')
    if recorded is None and record:
        _record(dest, actual)
    return actual


def sha256_of(path, progress=False):
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f, tqdm(total=os.path.getsize(path), unit='B', unit_scale=True, desc='sha256',
                                     disable=not progress, leave=False) as bar:
        for block in iter(lambda: f.read(CHUNK), b''):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def _total_size(response, offset):
    """The full file size from Content-Range (206) or Content-Length (200); ``None`` if unknown."""
    content_range = response.headers.get('Content-Range')
    if content_range:
        match = re.match(r'bytes (\d+)-(\d+)/(\d+|\*)', content_range)
        if match and match.group(3) != '*':
            return int(match.group(3))
    length = response.headers.get('Content-Length')
    if length is None:
        return None
    return int(length) + (offset if response.status == 206 else 0)


def download(url, dest, sha256=None, size=None, progress=True, retries=2, timeout=60, connect_timeout=10,
             record_sha256=False):
    """Download ``url`` to ``dest``, resuming a previous ``dest.partial``, under a lock on ``dest.lock``.

    Two processes asking for the same ``dest`` never write it together: the second waits for the lock, then
    finds the finished file. A Google Drive confirmation page is answered (see :mod:`.gdrive`).

    Args:
        url (str): http(s) URL.
        dest (str): Final file path; a complete ``dest`` whose checksum matches is kept as it is.
        sha256 (str | None): Expected hex SHA-256; checked before the rename.
        size (int | None): Expected size in bytes; checked before the rename.
        progress (bool): Show a progress bar.
        retries (int): Further attempts, each resuming where the last stopped, after a broken transfer.
        timeout (float): Socket timeout in seconds while reading.
        connect_timeout (float): Seconds to wait for the connection and the response headers.
        record_sha256 (bool): Record the SHA-256 in ``dest.sha256`` after the download, and check an existing
            ``dest`` against that record (a mismatch is refused).

    Returns:
        str: ``dest``.

    Raises:
        OfflineError: the server could not be reached (not retried).
        DownloadError: the transfer failed on every attempt, or size / checksum do not match.
    """
    dest = os.fspath(dest)
    with file_lock(dest + '.lock', progress):
        if os.path.exists(dest):
            if record_sha256:
                verify_recorded_sha256(dest, sha256, progress)
                return dest
            if sha256 is None or sha256_of(dest, progress).lower() == sha256.lower():
                return dest
            raise DownloadError(f'{dest} exists but its SHA-256 is not {sha256}; remove it to download again')
        return _download_unlocked(url, dest, sha256, size, progress, retries, timeout, connect_timeout,
                                  record_sha256)


def _download_unlocked(url, dest, sha256, size, progress, retries, timeout, connect_timeout, record_sha256):
    partial = dest + '.partial'
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    # one cookie jar for all attempts: Drive's older confirmation flow checks a cookie it set on the first answer
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    last_error = None
    for _ in range(retries + 1):
        try:
            total = _fetch(opener, url, partial, progress, timeout, connect_timeout)
            break
        except (OSError, http.client.HTTPException) as error:  # URLError, resets, IncompleteRead, timeouts
            if not getattr(error, 'retry', True):
                raise
            last_error = error
    else:
        raise DownloadError(f'downloading {url} failed ({last_error}); run again to resume from '
                            f'{os.path.getsize(partial) if os.path.exists(partial) else 0} bytes in {partial}')
    got = os.path.getsize(partial)
    for expected, what in ((size, 'expected'), (total, 'announced by the server')):
        if expected is not None and got != expected:
            raise DownloadError(f'{partial}: {got} bytes, but {expected} {what}; run again to resume')
    actual = None
    if sha256 is not None or record_sha256:
        actual = sha256_of(partial, progress)
    if sha256 is not None and actual.lower() != sha256.lower():
        os.remove(partial)  # a wrong complete file cannot be repaired by resuming
        raise DownloadError(f'{url}: SHA-256 {actual} does not match the expected {sha256}; removed {partial}')
    if record_sha256:
        _record(dest, actual.lower())  # before the rename: a finished dest always has its record
    os.replace(partial, dest)
    return dest


def _host(url):
    return urllib.parse.urlsplit(url).netloc or url


def _open(opener, url, offset, timeout, connect_timeout, hops=3):
    """Open ``url`` asking for bytes from ``offset``, answering up to ``hops`` confirmation pages on the way."""
    for _ in range(hops + 1):
        request = urllib.request.Request(url, headers={'Range': f'bytes={offset}-'} if offset else {})
        try:
            response = opener.open(request, timeout=connect_timeout)
        except urllib.error.HTTPError:
            raise
        except urllib.error.URLError as error:  # no route, unknown host, refused, connect timeout
            raise OfflineError(f'cannot reach {_host(url)} ({error.reason})') from None
        except (TimeoutError, ConnectionError) as error:
            raise OfflineError(f'cannot reach {_host(url)} ({error})') from None
        _set_read_timeout(response, timeout)
        if response.headers.get_content_type() != 'text/html':
            return response
        with response:  # a checkpoint or an archive is never HTML: a page to answer, or an error page
            page = response.read(MAX_PAGE).decode('utf-8', 'replace')
        cookies = {cookie.name: cookie.value for handler in opener.handlers
                   if isinstance(handler, urllib.request.HTTPCookieProcessor) for cookie in handler.cookiejar}
        next_url = confirm_url(page, response.geturl(), cookies)
        if next_url is None:
            raise _NotTheFile(f'{url}: the server sent a web page instead of the file (no download token on it: '
                              'the file may be private, moved, or over its download quota)')
        url = next_url
    raise _NotTheFile(f'{url}: still a web page after {hops} confirmation pages')


def _set_read_timeout(response, timeout):
    """Reads may wait longer than the connect: a slow server is not an offline one."""
    sock = getattr(getattr(getattr(response, 'fp', None), 'raw', None), '_sock', None)
    if sock is not None:
        sock.settimeout(timeout)


def _fetch(opener, url, partial, progress, timeout, connect_timeout):
    """One attempt: append to ``partial`` from where it ends. Returns the full size if the server told it."""
    offset = os.path.getsize(partial) if os.path.exists(partial) else 0
    try:
        response = _open(opener, url, offset, timeout, connect_timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # nothing left to fetch: the partial file is already complete
            return None
        raise
    with response:
        if offset and response.status != 206:  # the server ignored Range: start over
            offset = 0
        total = _total_size(response, offset)
        with open(partial, 'ab' if offset else 'wb') as f, \
                tqdm(total=total, initial=offset, unit='B', unit_scale=True, desc=os.path.basename(partial),
                     disable=not progress) as bar:
            received = offset
            for block in iter(lambda: response.read(CHUNK), b''):
                f.write(block)
                received += len(block)
                bar.update(len(block))
        if total is not None and received < total:
            raise DownloadError(f'connection closed after {received} of {total} bytes')
    return total
