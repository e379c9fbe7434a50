"""Writing BasicSR-format LMDBs safely: computed map size, ``.partial`` folder, rename when complete.

The format is the one ``basicsr.utils.lmdb_util.make_lmdb_from_imgs`` writes and BasicSR's
``LmdbBackend`` / ``paired_paths_from_lmdb`` read: each value is a PNG made by ``cv2.imencode``,
the key is the image name without extension, and ``meta_info.txt`` has one line per record,
``<key>.png (h,w,c) <compress_level>``.

Unlike ``make_lmdb_from_imgs`` (map size guessed from the first image, ``sys.exit`` when the folder
exists), :class:`LmdbWriter` sizes the map from an upper bound of every record, grows it if LMDB
still runs out, writes into a hidden ``.<name>.lmdb.partial`` beside the output and renames that into place
only after the last commit, so an interrupted run never leaves something that looks complete. An LMDB it
replaces is first renamed aside (hidden, ``.<name>.lmdb.old``), so a kill while replacing leaves the old or
the new one whole, never one half deleted; the next writer of that path removes what a killed one left.
"""
import math
import os
import shutil

import lmdb

from ..fileio import atomic_write

__all__ = ['LmdbWriter', 'png_size_bound', 'lmdb_map_size', 'read_meta_info', 'OutputExistsError']

PAGE = 4096


class OutputExistsError(FileExistsError):
    """The LMDB to write exists already and overwriting was not asked for."""


def png_size_bound(h, w, c=3):
    """Upper bound on the size of an 8-bit PNG of ``h x w x c``, whatever its content.

    Raw scanlines (one filter byte each) through zlib's worst case (``compressBound``), plus the
    PNG signature, header and chunk overheads with room to spare.
    """
    raw = h * (w * c + 1)
    deflate = raw + (raw >> 12) + (raw >> 14) + (raw >> 25) + 13
    chunks = 12 * (deflate // 4096 + 1)  # 12 bytes per chunk, counting one chunk per 4 KiB to be safe
    return deflate + chunks + 1024


def lmdb_map_size(shapes):
    """An LMDB map size that holds one PNG of each shape in ``shapes`` (iterable of ``(h, w, c)``).

    Each value larger than a page lives in its own run of overflow pages; a page per record on top
    covers keys and the B-tree, and 25% plus 16 MiB covers pages copied by later transactions. On
    Linux and macOS the file grows only as data is written, so a generous map costs no disk.
    """
    pages = sum(math.ceil((png_size_bound(*shape) + 64) / PAGE) + 1 for shape in shapes)
    return int(pages * PAGE * 1.25) + (16 << 20)


def read_meta_info(lmdb_path):
    """``[(key, (h, w, c), compress_level)]`` from an LMDB's ``meta_info.txt``.

    Raises:
        ValueError: a line that is not ``<key>.png (h,w,c) <level>``, naming the file and line.
    """
    meta_path = os.path.join(lmdb_path, 'meta_info.txt')
    records = []
    with open(meta_path, encoding='ascii') as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            try:
                name, shape, level = fields
                shape = tuple(int(v) for v in shape.strip('()').split(','))
                records.append((name.split('.')[0], shape, int(level)))
            except ValueError:
                raise ValueError(f'{meta_path}, line {number}: expected "<key>.png (h,w,c) <level>", got {line!r}')
    return records


class LmdbWriter:
    """Write one LMDB of PNG-encoded images into a hidden ``.partial`` folder beside ``path``, then rename it.

    Use as a context manager: leaving the block by an exception removes the ``.partial`` folder.

    Args:
        path (str): The final ``*.lmdb`` folder.
        map_size (int): Initial map size in bytes (see :func:`lmdb_map_size`); grown if ever too small.
        compress_level (int): Recorded in ``meta_info.txt``; must be the level the values were encoded with.
        overwrite (bool): Replace an existing ``path`` when finished. Without it an existing ``path`` is
            an error, raised here before anything is written.
        batch_bytes (int): Commit after this many bytes of values.
    """

    def __init__(self, path, map_size, compress_level=1, overwrite=False, batch_bytes=256 << 20):
        path = os.fspath(path)
        if not path.endswith('.lmdb'):
            raise ValueError(f'an LMDB path must end with .lmdb, got {path}')
        if os.path.exists(path) and not overwrite:
            raise OutputExistsError(f'{path} exists; pass overwrite=True (--overwrite) to replace it')
        self.path = path
        folder, name = os.path.split(path)
        self.partial = os.path.join(folder, f'.{name}.partial')  # hidden: half-written, never to be read
        self.compress_level = compress_level
        self.overwrite = overwrite
        self.batch_bytes = batch_bytes
        self.aside = os.path.join(folder, f'.{name}.old')
        for left in (self.partial, self.aside):  # left by an interrupted run: never the output, safe to drop
            if os.path.exists(left):
                shutil.rmtree(left)
        os.makedirs(self.partial)
        self.env = lmdb.open(self.partial, map_size=max(int(map_size), 1 << 20))  # meminit: no stray bytes
        self.txn = self.env.begin(write=True)
        self.pending = []  # records of the open transaction, replayed if the map has to grow
        self.pending_bytes = 0
        self.meta_lines = []

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()
        return False

    def put(self, key, value, shape):
        """Store one record.

        Args:
            key (str): ASCII key without dots.
            value (bytes): The PNG bytes.
            shape (tuple[int]): ``(h, w, c)`` of the decoded image.
        """
        if '.' in key or not key.isascii():
            raise ValueError(f'LMDB key {key!r} must be ASCII without dots (BasicSR splits meta_info lines at ".")')
        key_bytes = key.encode('ascii')
        self._put(key_bytes, value)
        self.pending.append((key_bytes, value))
        self.pending_bytes += len(value)
        h, w, c = shape
        self.meta_lines.append(f'{key}.png ({h},{w},{c}) {self.compress_level}\n')
        if self.pending_bytes >= self.batch_bytes:
            self.commit()

    def _put(self, key_bytes, value):
        try:
            self.txn.put(key_bytes, value)
        except lmdb.MapFullError:
            self.txn.abort()
            self.env.set_mapsize(self.env.info()['map_size'] * 2)
            self.txn = self.env.begin(write=True)
            for k, v in self.pending:
                self.txn.put(k, v)
            self._put(key_bytes, value)

    def commit(self):
        """Commit the open transaction and start a new one."""
        self.txn.commit()
        self.txn = self.env.begin(write=True)
        self.pending, self.pending_bytes = [], 0

    def finish(self):
        """Commit, write ``meta_info.txt`` and rename the folder into place. Returns the final path."""
        self.txn.commit()
        self.txn = None
        self.env.sync()
        self.env.close()
        self.env = None
        atomic_write(os.path.join(self.partial, 'meta_info.txt'), ''.join(self.meta_lines))
        if os.path.exists(self.path):
            if not self.overwrite:  # appeared while we were writing
                raise OutputExistsError(f'{self.path} appeared during the conversion; kept {self.partial}')
            os.replace(self.path, self.aside)  # not rmtree: killed half-way it would leave meta_info.txt, no data
            os.replace(self.partial, self.path)
            shutil.rmtree(self.aside)
        else:
            os.replace(self.partial, self.path)
        return self.path

    def abort(self):
        """Drop everything written so far (the ``.partial`` folder)."""
        if self.txn is not None:
            self.txn.abort()
            self.txn = None
        if self.env is not None:
            self.env.close()
            self.env = None
        shutil.rmtree(self.partial, ignore_errors=True)
