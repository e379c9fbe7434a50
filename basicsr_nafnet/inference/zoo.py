"""The model zoo: the released NAFNet deblurring checkpoints by name, and where their weights come from.

One table, :data:`ZOO`: name -> arch and its options (the official released configurations), the published
PSNR/SSIM with their source, the download sources (the official Google Drive files; a direct mirror where one
exists, with its key layout), the weights key, size/SHA-256 where known (otherwise recorded beside the file on
first download) and a licence note. Full frames run as the Local (TLC) variants, as the official test files
do and as the published numbers were measured.

A user zoo file (YAML, path in ``$BASICSR_NAFNET_ZOO``) adds entries or overrides fields of ours, e.g. to point
a lab at its own mirror. :func:`resolve_weights` turns a name or URL into a local file: the cache first
(:func:`basicsr_nafnet.data.download.cache_dir`), else a download, else one line saying how to get it by hand.
Nothing here touches the network until :func:`resolve_weights` is called.
"""
import copy
import difflib
import hashlib
import os
import re
import urllib.parse
from collections import OrderedDict

import yaml

from ..data.download import CACHE_ENV, DownloadError, cache_dir, download, verify_recorded_sha256
from ..data.gdrive import drive_download_url, drive_page_url
from ..errors import UserError

__all__ = ['ZOO', 'ZOO_ENV', 'LAYOUTS', 'ZooError', 'WeightsUnavailableError', 'load_zoo', 'zoo_names',
           'zoo_entry', 'zoo_help', 'resolve_weights', 'is_url']

ZOO_ENV = 'BASICSR_NAFNET_ZOO'
LAYOUTS = ('official', 'mmagic')  # key layouts a source may have; mmagic's is converted on load (layouts.py)

_README = 'official NAFNet README, "Results and Pre-trained Models"'
_LICENCE = ("code: MIT (the official NAFNet repository's LICENSE, which also carries BasicSR's Apache-2.0 notice); "
            'the weights state no licence of their own: see the official repository')
_GOPRO_BLOCKS = {'enc_blk_nums': (1, 1, 1, 28), 'middle_blk_num': 1, 'dec_blk_nums': (1, 1, 1, 1)}
# the official test files leave NAFNetLocal/BaselineLocal at their default training size
_TRAIN_SIZE = (1, 3, 256, 256)
_TLC_NOTE = ('full frames run as the Local (TLC) variant, train_size (1, 3, 256, 256), as the official test file '
             'does; the published numbers are measured that way (~0.6 dB above the plain arch)')
_GOPRO = 'GoPro test, 1111 pairs (1280x720), RGB, crop border 0'
_SSIM_3D = '3-D (MATLAB-style, one 11x11x11 window over the RGB volume)'


def _drive(file_id, filename):
    return {'url': drive_download_url(file_id), 'page': drive_page_url(file_id), 'layout': 'official',
            'filename': filename, 'size': None, 'sha256': None}


def _entry(name, arch, options, drive_id, psnr, ssim, dataset=_GOPRO, ssim_protocol=_SSIM_3D, mirrors=()):
    return {
        'arch': arch,
        'options': dict(options, train_size=_TRAIN_SIZE),
        'published': {'psnr': psnr, 'ssim': ssim, 'ssim_protocol': ssim_protocol, 'dataset': dataset,
                      'source': _README},
        'sources': [_drive(drive_id, f'{name}.pth')] + list(mirrors),
        'weights_key': 'params',
        'licence': _LICENCE,
        'note': _TLC_NOTE,
    }


_MMAGIC_GOPRO_64 = {
    'url': 'https://download.openmmlab.com/mmediting/nafnet/NAFNet-GoPro-midc64.pth',
    'page': 'https://download.openmmlab.com/mmediting/nafnet/NAFNet-GoPro-midc64.pth',
    'layout': 'mmagic', 'filename': 'NAFNet-GoPro-midc64.pth', 'size': None, 'sha256': None,
    'note': "mmagic's mirror (configs/nafnet, metafile.yml); mmagic measured 33.7246 dB, SSIM 0.9479 by per-channel "
            '2-D SSIM',
}

ZOO = OrderedDict([
    ('NAFNet-GoPro-width32', _entry('NAFNet-GoPro-width32', 'NAFNetLocal', dict(width=32, **_GOPRO_BLOCKS),
                                    '1Fr2QadtDCEXg6iwWX8OzeZLbHOx2t5Bj', 32.8705, 0.9606)),
    ('NAFNet-GoPro-width64', _entry('NAFNet-GoPro-width64', 'NAFNetLocal', dict(width=64, **_GOPRO_BLOCKS),
                                    '1S0PVRbyTakYY9a82kujgZLbMihfNBLfC', 33.7103, 0.9668,
                                    mirrors=[_MMAGIC_GOPRO_64])),
    ('Baseline-GoPro-width32', _entry('Baseline-GoPro-width32', 'BaselineLocal',
                                      dict(width=32, dw_expand=1, ffn_expand=2, **_GOPRO_BLOCKS),
                                      '14z7CxRzVkYEhFgsZg79GlPTEr3VFIGyl', 32.4799, 0.9575)),
    ('Baseline-GoPro-width64', _entry('Baseline-GoPro-width64', 'BaselineLocal',
                                      dict(width=64, dw_expand=2, ffn_expand=2, **_GOPRO_BLOCKS),
                                      '1yy0oPNJjJxfaEmO0pfPW_TpeoCotYkuO', 33.3960, 0.9649)),
    # REDS: deblurring with JPEG artifacts; the GoPro width-64 blocks; the official REDS test file scores
    # SSIM with calculate_ssim (per-channel 2-D)
    ('NAFNet-REDS-width64', _entry('NAFNet-REDS-width64', 'NAFNetLocal', dict(width=64, **_GOPRO_BLOCKS),
                                   '14D4V4raNYIOhETfcuuLI3bGLB-OYIv6X', 29.0903, 0.8671,
                                   dataset='REDS val, 300 pairs (blur with JPEG artifacts), RGB, crop border 0',
                                   ssim_protocol='per-channel 2-D')),
])


class ZooError(UserError):
    """An unknown model name, or a user zoo file that cannot be used."""


class WeightsUnavailableError(UserError):
    """Weights neither in the cache nor downloadable (offline, every source failed)."""


# ----------------------------------------------------------------------------------------------- the user zoo file

_ENTRY_FIELDS = ('arch', 'options', 'sources', 'weights_key', 'published', 'licence', 'note')
_SOURCE_FIELDS = ('url', 'drive', 'page', 'layout', 'filename', 'size', 'sha256', 'note')


def _check_filename(value, where):
    if not isinstance(value, str) or not value or value in ('.', '..') or '/' in value or '\\' in value:
        raise ZooError(f'{where}: expected a single file name, got {value!r}')
    return value


def _check_source(raw, where, default_filename):
    if isinstance(raw, str):
        raw = {'url': raw}
    if not isinstance(raw, dict):
        raise ZooError(f'{where}: expected a URL or a mapping with url (or drive), got {type(raw).__name__}')
    unknown = sorted(set(raw) - set(_SOURCE_FIELDS))
    if unknown:
        raise ZooError(f'{where}: unknown field {unknown[0]!r} (known: {", ".join(_SOURCE_FIELDS)})')
    if ('url' in raw) == ('drive' in raw):
        raise ZooError(f'{where}: give exactly one of url (http, https or file) or drive (a Google Drive file id)')
    if 'drive' in raw:
        if not isinstance(raw['drive'], str) or not re.fullmatch(r'[\w-]{10,}', raw['drive']):
            raise ZooError(f"{where}.drive: expected a Google Drive file id, got {raw['drive']!r}")
        source = _drive(raw['drive'], default_filename)
    else:
        if not is_url(raw['url']):
            raise ZooError(f"{where}.url: expected an http, https or file URL, got {raw['url']!r}")
        source = {'url': raw['url'], 'page': raw['url'], 'layout': 'official', 'filename': _url_filename(raw['url']),
                  'size': None, 'sha256': None}
    source.update({k: v for k, v in raw.items() if k not in ('url', 'drive')})
    if source['layout'] not in LAYOUTS:
        raise ZooError(f"{where}.layout: expected one of {', '.join(LAYOUTS)}, got {source['layout']!r}")
    _check_filename(source['filename'], f'{where}.filename')
    if source['size'] is not None and (not isinstance(source['size'], int) or isinstance(source['size'], bool)
                                       or source['size'] <= 0):
        raise ZooError(f"{where}.size: expected a positive number of bytes, got {source['size']!r}")
    if source['sha256'] is not None and not (isinstance(source['sha256'], str)
                                             and re.fullmatch(r'[0-9a-fA-F]{64}', source['sha256'])):
        raise ZooError(f"{where}.sha256: expected 64 hex digits, got {source['sha256']!r}")
    return source


def _check_entry(name, raw, base, path):
    where = f'{path}: {name}'
    if not isinstance(raw, dict):
        raise ZooError(f'{where}: expected a mapping of {", ".join(_ENTRY_FIELDS)}, got {type(raw).__name__}')
    unknown = sorted(set(raw) - set(_ENTRY_FIELDS))
    if unknown:
        raise ZooError(f'{where}: unknown field {unknown[0]!r} (known: {", ".join(_ENTRY_FIELDS)})')
    if base is None and 'arch' not in raw:
        raise ZooError(f'{where}: a new entry needs arch (a registered arch name, e.g. NAFNetLocal)')
    entry = copy.deepcopy(base) if base else {'options': {}, 'sources': [], 'weights_key': None, 'published': {},
                                              'licence': 'not stated', 'note': ''}
    for key in ('arch', 'weights_key', 'licence', 'note'):
        if key in raw:
            if not isinstance(raw[key], str) or not raw[key]:
                raise ZooError(f'{where}.{key}: expected a non-empty string, got {raw[key]!r}')
            entry[key] = raw[key]
    for key in ('options', 'published'):
        if key in raw:
            if not isinstance(raw[key], dict) or not all(isinstance(k, str) for k in raw[key]):
                raise ZooError(f'{where}.{key}: expected a mapping with string keys, got {raw[key]!r}')
            entry[key] = dict(raw[key])
    if 'sources' in raw:
        if not isinstance(raw['sources'], list):
            raise ZooError(f'{where}.sources: expected a list of URLs or mappings, got {raw["sources"]!r}')
        entry['sources'] = [_check_source(s, f'{where}.sources[{i}]', f'{name}.pth')
                            for i, s in enumerate(raw['sources'])]
    return entry


def load_zoo(path=None):
    """Our table with a user zoo file's entries added or overriding ours field by field.

    Args:
        path (str | None): The YAML file; None reads ``$BASICSR_NAFNET_ZOO`` (unset or empty: our table only).

    Returns:
        OrderedDict: name -> entry (copies: changing them changes nothing here).

    Raises:
        ZooError: One line naming the file and the key that is wrong.
    """
    zoo = copy.deepcopy(ZOO)
    path = path if path is not None else os.environ.get(ZOO_ENV) or None
    if path is None:
        return zoo
    try:
        with open(path, encoding='utf-8') as f:
            raw = yaml.safe_load(f)
    except OSError as err:
        raise ZooError(f'{path} (from {ZOO_ENV}): cannot read it ({err.strerror or err})') from None
    except yaml.YAMLError as err:
        mark = getattr(err, 'problem_mark', None)
        where = f' at line {mark.line + 1}' if mark is not None else ''
        raise ZooError(f'{path}: not valid YAML{where} ({getattr(err, "problem", None) or err})') from None
    if raw is None:
        return zoo
    if not isinstance(raw, dict):
        raise ZooError(f'{path}: expected a mapping of model names to entries, got {type(raw).__name__}')
    for name, value in raw.items():
        if not isinstance(name, str) or not re.fullmatch(r'[\w.+-]+', name):
            raise ZooError(f'{path}: {name!r} is not a model name (letters, digits, . _ + - only)')
        zoo[name] = _check_entry(name, value, zoo.get(name), path)
    return zoo


def zoo_names(path=None):
    """The model names, ours first, then the user zoo file's."""
    return list(load_zoo(path))


def zoo_help(path=None):
    """One line for ``--help`` texts: the names a model argument accepts."""
    return 'a model name (' + ', '.join(zoo_names(path)) + '), a URL, or a local .pth file'


def zoo_entry(name, path=None):
    """The entry of ``name`` (a copy).

    Raises:
        ZooError: Unknown name; the message lists close names or all of them.
    """
    zoo = load_zoo(path)
    if name not in zoo:
        close = difflib.get_close_matches(name, list(zoo), n=3)
        hint = f'did you mean {", ".join(close)}?' if close else f'known: {", ".join(zoo)}'
        raise ZooError(f'unknown model {name!r}; {hint}')
    return zoo[name]


# ------------------------------------------------------------------------------------------------ weights to a path

def is_url(text):
    """True for http, https and file URLs."""
    return isinstance(text, str) and urllib.parse.urlsplit(text).scheme in ('http', 'https', 'file')


def _url_filename(url):
    """The cache file name of a URL: its last path component when it names a checkpoint, else a hash of the URL."""
    name = os.path.basename(urllib.parse.urlsplit(url).path)
    if re.fullmatch(r'[\w.+-]+\.(pth|pt|ckpt|bin)', name or ''):
        return name
    return 'url-' + hashlib.sha256(url.encode('utf-8')).hexdigest()[:16] + '.pth'


def _cached(folder, source, progress):
    path = os.path.join(folder, source['filename'])
    if not os.path.isfile(path):
        return None
    verify_recorded_sha256(path, source.get('sha256'), progress)
    return path


def resolve_weights(name_or_url, cache=None, progress=True, connect_timeout=10, timeout=60, zoo_file=None):
    """A local checkpoint file for a zoo name or a URL: from the cache, else downloaded into it.

    Args:
        name_or_url (str): A zoo name (see :func:`zoo_names`) or an http(s)/file URL.
        cache (str | None): The cache folder; None: :func:`basicsr_nafnet.data.download.cache_dir`.
        progress (bool): Progress bars while downloading and hashing.
        connect_timeout (float): Seconds to wait for each server before trying the next source.
        timeout (float): Socket timeout while reading.
        zoo_file (str | None): A user zoo file; None reads ``$BASICSR_NAFNET_ZOO``.

    Returns:
        str: The file's path. Its key layout is told by the file itself: read it with
        :func:`basicsr_nafnet.inference.layouts.read_official_state_dict`, which converts mmagic's.

    Raises:
        ZooError: Not a URL and not a name in the zoo.
        WeightsUnavailableError: Not cached, and no source could be downloaded; one line that says where to get the
            file by hand, where to put it, and which variables point at a local mirror.
        DownloadError: A cached file that no longer matches its recorded SHA-256.
    """
    folder = cache or cache_dir()
    if is_url(name_or_url):
        name, sources = name_or_url, [{'url': name_or_url, 'page': name_or_url, 'layout': 'official',
                                      'filename': _url_filename(name_or_url), 'size': None, 'sha256': None}]
    else:
        name, sources = name_or_url, zoo_entry(name_or_url, zoo_file)['sources']
    for source in sources:  # any source already in the cache: no request at all
        path = _cached(folder, source, progress)
        if path:
            return path
    failures = []
    for source in sources:
        dest = os.path.join(folder, source['filename'])
        try:
            return download(source['url'], dest, sha256=source.get('sha256'), size=source.get('size'),
                            progress=progress, timeout=timeout, connect_timeout=connect_timeout, record_sha256=True)
        except DownloadError as err:  # offline, refused, cut, wrong checksum: try the next source
            failures.append(str(err).splitlines()[0] if str(err) else type(err).__name__)
    by_hand = ' or '.join(s['page'] for s in sources) or 'the file'
    target = os.path.join(folder, sources[0]['filename']) if sources else os.path.join(folder, f'{name}.pth')
    raise WeightsUnavailableError(
        f'{name}: weights not in the cache and not downloadable ({"; ".join(failures) or "no sources"}). '
        f'Download {by_hand} by hand and save it as {target}, or set {CACHE_ENV} to a folder that holds '
        f'{os.path.basename(target)}, or list your mirror in a zoo file named by {ZOO_ENV}')
