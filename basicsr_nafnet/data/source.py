"""Reading a dataset in place from a folder or a zip archive, through one small interface.

GoPro comes as a 5 to 9 GB zip; extracting it doubles the disk needed for files read once. A
:class:`DatasetSource` lists image files by their POSIX path relative to the dataset root and reads
them as bytes, whether the root is a folder or a ``.zip``. Zip members with absolute paths or
``..`` components are refused (zip slip), even though nothing is extracted: a name like that means
the archive was not made for this purpose.

A source is picklable (it holds only its path) and opens the archive lazily, so each worker
process gets its own file handle.
"""
import os
import posixpath
import zipfile

from ..errors import UserError
from ..fileio import IMAGE_EXTENSIONS

__all__ = ['DatasetSource', 'UnsafeArchiveError', 'open_source']


class UnsafeArchiveError(UserError):
    """A zip archive holds member names that point outside the archive's root."""


def _is_unsafe_member(name):
    """True for names that would escape the extraction root: absolute, drive-qualified or with ``..``."""
    if name.startswith(('/', '\\')) or (len(name) > 1 and name[1] == ':'):
        return True
    return '..' in name.replace('\\', '/').split('/')


class DatasetSource:
    """A dataset root, folder or zip archive, read in place.

    Args:
        root (str): A folder or a ``.zip`` file.
    """

    def __init__(self, root):
        root = os.fspath(root)
        if not os.path.exists(root):
            raise UserError(f'{root}: no such dataset folder or zip')
        self.root = root
        self.is_zip = os.path.isfile(root)
        if self.is_zip and not zipfile.is_zipfile(root):
            raise UserError(f'{root}: a file but not a zip archive; give a dataset folder or a .zip')
        self._zip = None
        self._zip_pid = None
        self._files = None

    def __getstate__(self):  # the open archive handle stays in the process that opened it
        return {'root': self.root, 'is_zip': self.is_zip, '_zip': None, '_zip_pid': None, '_files': None}

    def __repr__(self):
        return f"DatasetSource('{self.root}')"

    def _archive(self):
        if self._zip is None or self._zip_pid != os.getpid():
            self._zip = zipfile.ZipFile(self.root)
            self._zip_pid = os.getpid()
        return self._zip

    def close(self):
        """Close the archive handle, if one is open."""
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def files(self):
        """Sorted POSIX paths, relative to the root, of every image file.

        Folders named ``*.lmdb`` (our own outputs, which may sit inside the dataset folder) are skipped.

        Raises:
            UnsafeArchiveError: a zip member name is absolute or contains ``..``; lists all of them.
        """
        if self._files is None:
            self._files = self._zip_files() if self.is_zip else self._folder_files()
        return self._files

    def _folder_files(self):
        found = []
        for folder, dirs, names in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if not d.endswith(('.lmdb', '.lmdb.partial')) and not d.startswith('.'))
            rel = os.path.relpath(folder, self.root)
            for name in names:
                if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith('.'):
                    found.append(posixpath.normpath(posixpath.join(rel.replace(os.sep, '/'), name)))
        return sorted(found)

    def _zip_files(self):
        names = self._archive().namelist()
        unsafe = sorted(n for n in names if _is_unsafe_member(n))
        if unsafe:
            raise UnsafeArchiveError(
                f'{self.root}: refusing an archive with {len(unsafe)} member(s) outside its root '
                f'(absolute paths or ".."): ' + ', '.join(unsafe))
        return sorted(n for n in names
                      if not n.endswith('/') and n.lower().endswith(IMAGE_EXTENSIONS)
                      and not posixpath.basename(n).startswith('.') and '__MACOSX/' not in n)

    def read(self, path):
        """All bytes of one file, given its relative POSIX path."""
        if self.is_zip:
            return self._archive().read(path)
        with open(os.path.join(self.root, *path.split('/')), 'rb') as f:
            return f.read()

    def read_head_tail(self, path, head=33, tail=12):
        """The first ``head`` and last ``tail`` bytes of a file (for header checks without a full read)."""
        if self.is_zip:
            info = self._archive().getinfo(path)
            with self._archive().open(info) as f:
                first = f.read(head)
                if info.compress_type == zipfile.ZIP_STORED and info.file_size > head + tail:
                    f.seek(info.file_size - tail)  # cheap for stored members, which is how PNG zips are made
                    last = f.read(tail)
                else:
                    last = (first + f.read())[-tail:]
            return first, last
        with open(os.path.join(self.root, *path.split('/')), 'rb') as f:
            first = f.read(head)
            size = f.seek(0, os.SEEK_END)
            f.seek(max(size - tail, 0))
            return first, f.read(tail)


def open_source(root):
    """A :class:`DatasetSource` for ``root``, passing an existing one through unchanged."""
    return root if isinstance(root, DatasetSource) else DatasetSource(root)
