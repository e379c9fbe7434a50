"""Checking BasicSR LMDBs: cheaply, that the files hold what ``meta_info.txt`` lists (:func:`check_lmdb_files`, before
training reads them), and fully, that a pair has the same keys and every record decodes to its recorded shape."""
import os

import lmdb
from tqdm import tqdm

from ..errors import UserError
from .lmdb_writer import read_meta_info
from .png import ImageProblem, decode_rgb8

__all__ = ['verify_lmdb_pair', 'check_lmdb_files', 'LmdbCheckError']


class LmdbCheckError(UserError):
    """A pair of LMDBs that BasicSR's PairedImageDataset would not read correctly; lists every problem."""


def check_lmdb_files(path):
    """What is wrong with the files of the LMDB folder ``path``, in one line, or None; reads no record.

    BasicSR maps ``data.mdb`` into memory: a file shorter than its own page table says (an interrupted copy or
    download) kills the reader with SIGBUS, no message, at the first record past the end. So the file's size is
    compared with the pages its header says are in use, and the record count with ``meta_info.txt``. Opens the
    database read-only and without a lock file: nothing is created.
    """
    data = os.path.join(path, 'data.mdb')
    again = 'copy it again, or convert it again with prepare_gopro.py'
    if not os.path.isfile(data):
        return f'{data}: missing, so this LMDB folder holds no records ({again})'
    try:
        with lmdb.open(path, readonly=True, lock=False, readahead=False, subdir=True) as env:
            needed = (env.info()['last_pgno'] + 1) * env.stat()['psize']
            entries = env.stat()['entries']
    except lmdb.Error as err:
        return f"{data}: not a readable LMDB ({str(err).split(': ', 1)[-1]}; {again})"
    size = os.path.getsize(data)
    if size < needed:
        return f'{data}: {size} bytes, but its records need {needed}: the file is truncated ({again})'
    meta = os.path.join(path, 'meta_info.txt')
    if os.path.isfile(meta):
        with open(meta, 'rb') as f:
            listed = sum(1 for line in f if line.strip())
        if entries < listed:
            return f'{path}: meta_info.txt lists {listed} records but data.mdb holds {entries} ({again})'
    return None


def _shape_problem(txn, key, shape, where):
    value = txn.get(key.encode('ascii'))
    if value is None:
        return f'{where}: key {key} is in meta_info.txt but not in the database'
    try:
        img = decode_rgb8(value, f'{where}:{key}')
    except ImageProblem as error:
        return str(error)
    return None if img.shape == tuple(shape) else f'{where}:{key} decodes to {img.shape}, meta_info.txt says {shape}'


def verify_lmdb_pair(lq_path, gt_path, progress=False):
    """Decode every record of a blurred/sharp LMDB pair and check keys and shapes.

    Args:
        lq_path (str): The blurred (input) LMDB.
        gt_path (str): The sharp (target) LMDB.
        progress (bool): Show a progress bar.

    Returns:
        int: The number of records on each side.

    Raises:
        LmdbCheckError: different keys, a record missing or undecodable, a shape that differs from
            ``meta_info.txt`` or from the other side, or extra records not in ``meta_info.txt``.
    """
    files = [check_lmdb_files(path) for path in (lq_path, gt_path)]
    if any(files):  # reading a truncated data.mdb would end this process with SIGBUS
        raise LmdbCheckError(' '.join(problem for problem in files if problem))
    metas = {path: read_meta_info(path) for path in (lq_path, gt_path)}
    keys = {path: [k for k, _, _ in meta] for path, meta in metas.items()}
    problems = []
    only_lq, only_gt = set(keys[lq_path]) - set(keys[gt_path]), set(keys[gt_path]) - set(keys[lq_path])
    problems += [f'{lq_path}: key {k} has no partner in {gt_path}' for k in sorted(only_lq)]
    problems += [f'{gt_path}: key {k} has no partner in {lq_path}' for k in sorted(only_gt)]
    shapes = {path: {k: s for k, s, _ in meta} for path, meta in metas.items()}
    for path in (lq_path, gt_path):
        with lmdb.open(path, readonly=True, lock=False, readahead=False) as env, env.begin() as txn:
            if env.stat()['entries'] != len(keys[path]):
                problems.append(f'{path}: {env.stat()["entries"]} records but {len(keys[path])} lines in meta_info.txt')
            for key in tqdm(keys[path], desc=f'verify {path}', unit='img', disable=not progress, leave=False):
                problem = _shape_problem(txn, key, shapes[path][key], path)
                if problem:
                    problems.append(problem)
    for key in sorted(set(keys[lq_path]) & set(keys[gt_path])):
        if shapes[lq_path][key] != shapes[gt_path][key]:
            problems.append(f'{key}: {shapes[lq_path][key]} in {lq_path} but {shapes[gt_path][key]} in {gt_path}')
    if problems:
        raise LmdbCheckError(f'{len(problems)} problem(s):\n  ' + '\n  '.join(problems))
    return len(keys[lq_path])
