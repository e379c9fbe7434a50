"""Downloading a large archive with resume and checksum, only when asked.

The file is streamed to ``<dest>.partial``; after an interruption the next call asks the server for
the rest with an HTTP ``Range`` request (and starts over if the server ignores it). The size and
SHA-256 are checked, when known, before the file is renamed into place, so ``dest`` only ever holds
a complete, verified download.
"""
import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request

from tqdm import tqdm

__all__ = ['download', 'DownloadError', 'sha256_of']

CHUNK = 1 << 20


class DownloadError(IOError):
    """A transfer that failed, was cut short, or produced a file with the wrong size or checksum."""


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


def download(url, dest, sha256=None, size=None, progress=True, retries=2, timeout=60):
    """Download ``url`` to ``dest``, resuming a previous ``dest.partial``.

    Args:
        url (str): http(s) URL.
        dest (str): Final file path; a complete ``dest`` whose checksum matches is kept as it is.
        sha256 (str | None): Expected hex SHA-256; checked before the rename.
        size (int | None): Expected size in bytes; checked before the rename.
        progress (bool): Show a progress bar.
        retries (int): Further attempts, each resuming where the last stopped, after a broken transfer.
        timeout (float): Socket timeout in seconds.

    Returns:
        str: ``dest``.

    Raises:
        DownloadError: the transfer failed on every attempt, or size / checksum do not match.
    """
    dest = os.fspath(dest)
    if os.path.exists(dest):
        if sha256 is None or sha256_of(dest, progress).lower() == sha256.lower():
            return dest
        raise DownloadError(f'{dest} exists but its SHA-256 is not {sha256}; remove it to download again')
    partial = dest + '.partial'
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    last_error = None
    for _ in range(retries + 1):
        try:
            total = _fetch(url, partial, progress, timeout)
            break
        except (OSError, http.client.HTTPException) as error:  # URLError, resets, IncompleteRead, timeouts
            last_error = error
    else:
        raise DownloadError(f'downloading {url} failed ({last_error}); run again to resume from '
                            f'{os.path.getsize(partial) if os.path.exists(partial) else 0} bytes in {partial}')
    got = os.path.getsize(partial)
    for expected, what in ((size, 'expected'), (total, 'announced by the server')):
        if expected is not None and got != expected:
            raise DownloadError(f'{partial}: {got} bytes, but {expected} {what}; run again to resume')
    if sha256 is not None:
        actual = sha256_of(partial, progress)
        if actual.lower() != sha256.lower():
            os.remove(partial)  # a wrong complete file cannot be repaired by resuming
            raise DownloadError(f'{url}: SHA-256 {actual} does not match the expected {sha256}; removed {partial}')
    os.replace(partial, dest)
    return dest


def _fetch(url, partial, progress, timeout):
    """One attempt: append to ``partial`` from where it ends. Returns the full size if the server told it."""
    offset = os.path.getsize(partial) if os.path.exists(partial) else 0
    request = urllib.request.Request(url, headers={'Range': f'bytes={offset}-'} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
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
