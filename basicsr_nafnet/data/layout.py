"""Recognising how a GoPro-style dataset is laid out and pairing its blurred and sharp images.

Four layouts are recognised, in a folder or a zip, with or without one enclosing folder
(``GOPRO_Large/train/...`` inside ``GOPRO_Large.zip``):

=============  =============================================================  ======================
layout         files                                                          key
=============  =============================================================  ======================
``GOPRO_Large``  ``{split}/<sequence>/{blur,blur_gamma,sharp}/<name>.png``      ``<sequence>-<name>``
``flattened``    ``{split}/{blur,sharp}/<name>.png``                            ``<name>``
``NAFNet``       ``{split}/{input,target}/<name>.png``                          ``<name>``
``HIDE``         ``test/{test-close-ups,test-long-shot}/<name>.png`` + ``GT/<name>.png`` ``<name>``
=============  =============================================================  ======================

Keys are unique within a split and contain only letters, digits, ``_`` and ``-``: BasicSR takes
an LMDB key as the text before the first dot of a ``meta_info.txt`` line.
"""
import posixpath
import re
from collections import Counter, defaultdict, namedtuple

from ..errors import UserError
from .png import decode_rgb8
from .source import open_source

__all__ = ['Pair', 'LayoutError', 'LAYOUTS', 'find_pairs', 'find_splits', 'dataset_prefix', 'read_image']

Pair = namedtuple('Pair', ['key', 'blur', 'sharp'])
Pair.__doc__ = 'A blurred/sharp pair: its LMDB key and the two paths (relative to the dataset root or zip).'

LAYOUTS = ('GOPRO_Large', 'flattened', 'NAFNet', 'HIDE')
SPLITS = ('train', 'test')
HIDE_TEST_DIRS = ('test-close-ups', 'test-long-shot')
_MARKERS = set(SPLITS) | {'GT'}
_KEY_UNSAFE = re.compile(r'[^A-Za-z0-9_-]')


class LayoutError(UserError):
    """The dataset's files do not form a recognised layout or do not pair up."""


def _stem(path):
    return posixpath.splitext(posixpath.basename(path))[0]


def dataset_prefix(files, where):
    """The folder inside ``files`` that holds ``train``/``test``/``GT`` ('' when they sit at the top).

    Args:
        files (list[str]): Relative POSIX paths.
        where (str): The dataset's location, for the error message.
    """
    prefixes = set()
    for path in files:
        parts = path.split('/')
        for i, part in enumerate(parts[:-1]):
            if part in _MARKERS:
                prefixes.add('/'.join(parts[:i]))
                break
    if not prefixes:
        return None
    shortest = min(len(p.split('/')) if p else 0 for p in prefixes)
    top = sorted(p for p in prefixes if (len(p.split('/')) if p else 0) == shortest)
    if len(top) > 1:
        raise LayoutError(f'{where}: more than one dataset inside ({", ".join(top)}); point --input at one of them')
    return top[0]


def _relative_files(source):
    """``{path relative to the dataset root: path in the source}`` for every image file."""
    files = source.files()
    prefix = dataset_prefix(files, source.root)
    if not prefix:  # at the top, or no train/test/GT folder at all (then no layout matches)
        return {f: f for f in files}
    cut = len(prefix) + 1
    return {f[cut:]: f for f in files if f.startswith(prefix + '/')}


def _describe(rel_files, limit=12):
    """A short summary of the folders that hold images, for the unknown-layout error."""
    folders = Counter(posixpath.dirname(p) or '.' for p in rel_files)
    lines = [f'  {folder}/  ({n} images)' for folder, n in sorted(folders.items())[:limit]]
    if len(folders) > limit:
        lines.append(f'  ... and {len(folders) - limit} more folders')
    return '\n'.join(lines) if lines else '  (no image files at all)'


def _candidates(rel_files, split, blur_dir):
    """For each layout, the ``(group, name) -> path`` maps of its blurred and sharp files in ``split``."""
    found = {name: (defaultdict(dict), defaultdict(dict)) for name in LAYOUTS}
    clashes = []

    def add(layout, is_sharp, group, rel):
        side = found[layout][is_sharp][group]
        if _stem(rel) in side:  # e.g. a.png next to a.jpg, or one name in both HIDE test folders
            clashes.append(f'{side[_stem(rel)]} and {rel}')
        side[_stem(rel)] = rel

    for rel in rel_files:
        parts = rel.split('/')
        if parts[0] == split and len(parts) == 4 and parts[2] in (blur_dir, 'sharp'):
            add('GOPRO_Large', parts[2] == 'sharp', parts[1], rel)
        elif parts[0] == split and len(parts) == 3 and parts[1] in ('blur', 'sharp'):
            add('flattened', parts[1] == 'sharp', '', rel)
        elif parts[0] == split and len(parts) == 3 and parts[1] in ('input', 'target'):
            add('NAFNet', parts[1] == 'target', '', rel)
        elif split == 'test' and len(parts) == 3 and parts[0] == 'test' and parts[1] in HIDE_TEST_DIRS:
            add('HIDE', False, '', rel)
        elif split == 'test' and len(parts) == 2 and parts[0] == 'GT':
            add('HIDE', True, '', rel)
    found = {name: sides for name, sides in found.items() if sides[0] or sides[1]}
    if clashes and len(found) == 1:
        raise LayoutError(f'{len(clashes)} pair(s) of files with the same name in one role:\n  ' + '\n  '.join(clashes))
    return found


def _pair_up(layout, blurs, sharps, where):
    """Match blurred and sharp files by group and name; every unpaired file is listed in the error."""
    pairs, unpaired = [], []
    for group in sorted(set(blurs) | set(sharps)):
        b, s = blurs.get(group, {}), sharps.get(group, {})
        unpaired += [f'{b[n]} (no sharp image)' for n in sorted(set(b) - set(s))]
        unpaired += [f'{s[n]} (no blurred image)' for n in sorted(set(s) - set(b))]
        for name in sorted(set(b) & set(s)):
            key = _KEY_UNSAFE.sub('_', f'{group}-{name}' if group else name)
            pairs.append(Pair(key, b[name], s[name]))
    if layout == 'HIDE':  # GT images without a blurred partner are fine: HIDE's GT also serves its train split
        unpaired = [u for u in unpaired if not u.endswith('(no blurred image)')]
    if unpaired:
        raise LayoutError(f'{where}: {len(unpaired)} file(s) without a partner:\n  ' + '\n  '.join(unpaired))
    duplicates = sorted(k for k, n in Counter(p.key for p in pairs).items() if n > 1)
    if duplicates:
        raise LayoutError(f'{where}: file names that give the same key: ' + ', '.join(duplicates))
    return pairs


def find_pairs(root, split, blur_dir='blur'):
    """Detect the layout of a dataset and pair its blurred and sharp images for one split.

    Args:
        root (str | DatasetSource): The dataset folder or ``.zip`` (read in place).
        split (str): ``'train'`` or ``'test'``.
        blur_dir (str): For ``GOPRO_Large``, which blurred folder to use: ``'blur'`` (default, what the
            NAFNet/MPRNet results use) or ``'blur_gamma'``.

    Returns:
        tuple[str, list[Pair]]: The layout's name and the pairs sorted by key; paths are relative to
        ``root`` (zip member names for a zip), ready for :func:`read_image`.

    Raises:
        LayoutError: no recognised layout, a split the layout lacks, unpaired files, duplicate keys.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    source = open_source(root)
    rel_files = _relative_files(source)
    where = f'{source.root} [{split}]'
    candidates = _candidates(rel_files, split, blur_dir)
    if not candidates:
        other = {k: v for s in SPLITS for k, v in _candidates(rel_files, s, blur_dir).items()}
        if 'HIDE' in other and split == 'train':
            raise LayoutError(f'{source.root}: the HIDE layout has a test split only (no train split here)')
        if other:
            raise LayoutError(f'{source.root}: no {split} images in the {", ".join(sorted(other))} layout')
        raise LayoutError(
            f'{source.root}: unknown dataset layout; expected one of GOPRO_Large '
            f'({split}/<sequence>/{{{blur_dir},sharp}}/*.png), flattened ({split}/{{blur,sharp}}/*.png), '
            f'NAFNet ({split}/{{input,target}}/*.png) or HIDE (test/{{test-close-ups,test-long-shot}}/*.png '
            f'with GT/*.png). Image folders found:\n{_describe(rel_files)}')
    if len(candidates) > 1:
        raise LayoutError(f'{where}: files of several layouts at once ({", ".join(sorted(candidates))}); '
                          'keep one layout per dataset folder')
    layout, (blurs, sharps) = next(iter(candidates.items()))
    pairs = _pair_up(layout, blurs, sharps, where)
    pairs = [Pair(p.key, rel_files[p.blur], rel_files[p.sharp]) for p in pairs]
    return layout, sorted(pairs, key=lambda p: p.key)


def find_splits(root, blur_dir='blur'):
    """The splits (``'train'``, ``'test'``) that hold images in a recognised layout."""
    source = open_source(root)
    rel_files = _relative_files(source)
    return [s for s in SPLITS if _candidates(rel_files, s, blur_dir)]


def read_image(root, path):
    """Read one image of a pair as an ``H x W x 3`` uint8 BGR array.

    Args:
        root (str | DatasetSource): The dataset folder or zip the pair came from.
        path (str): ``pair.blur`` or ``pair.sharp`` from :func:`find_pairs`.
    """
    source = open_source(root)
    name = f'{source.root}:{path}' if source.is_zip else posixpath.join(source.root, path)
    return decode_rgb8(source.read(path), name)
