"""Seeded mutations of an option file: what a user's typo, paste or editor accident does to a working YAML.

:func:`mutations` turns a base option dict into a list of :class:`Mutation` (an id, a one-line description and the
damaged YAML text), the same list for the same seed. Kinds: a key deleted, a value of the wrong type (str, int,
float, list, dict, bool, null), huge, negative, NaN or infinite numbers, a key renamed, a key moved under another
section, unicode and very long strings, absolute and ``..`` paths, YAML damage (unclosed brackets, tabs, duplicate
keys), small alias bombs, unknown arch/loss/optimizer/scheduler names and arguments, a crop larger than the data's
images, and optional logger back-ends (wandb) that may not be installed.
"""
import copy
import random
from dataclasses import dataclass

import yaml

__all__ = ['Mutation', 'mutations', 'mutations_of_bases', 'leaf_paths']

WRONG_TYPES = {'str': 'abc', 'int': 7, 'float': 0.5, 'list': [1, 2], 'dict': {'a': 1}, 'bool': True, 'null': None}
NUMBERS = {'huge': 10 ** 18, 'huge-float': 1e308, 'negative': -3, 'zero': 0, 'nan': float('nan'),
           'inf': float('inf'), 'minus-inf': float('-inf')}
STRINGS = {'unicode': 'ünïcødé-日本-🙂', 'long': 'x' * 5000, 'empty': '', 'newline': 'a\nb', 'spaces': '   '}
PATHS = {'absolute': '/nonexistent/fuzz/dir', 'parent': '../../outside', 'home': '~/nonexistent-fuzz'}
# names BasicSR, torch or a neighbour plugin knows, or nobody does
TYPE_NAMES = {
    'network_g.type': ['NoSuchArch', 'EDSR', 'RRDBNet', 'SwinIR', 'NAFNetLocal', 'Baseline', 'DeblurUNet',
                       'ResidualCNN'],
    'train.pixel_opt.type': ['NoLoss', 'L1Loss', 'MSELoss', 'CharbonnierLoss', 'PerceptualLoss', 'GANLoss'],
    'train.optim_g.type': ['Turbo', 'Adam', 'SGD', 'LBFGS', 'SparseAdam', 'Adadelta', 'RMSprop', 'Adamax'],
    'train.scheduler.type': ['Wavy', 'MultiStepLR', 'CosineAnnealingRestartLR', 'StepLR', 'ReduceLROnPlateau'],
    'model_type': ['SRModel', 'NoSuchModel', 'SRGANModel', 'VideoBaseModel'],
    'datasets.train.type': ['PairedImageDataset', 'SingleImageDataset', 'REDSDataset', 'NoSuchDataset'],
    'val.metrics.psnr.type': ['calculate_ssim', 'calculate_niqe', 'nometric'],
}
EXTRA_ARGUMENTS = {
    'network_g': [('widht', 8), ('img_channel', 1), ('img_channel', 4), ('width', 0), ('enc_blk_nums', []),
                  ('enc_blk_nums', [1, 1, 1, 1, 1, 1, 1]), ('dec_blk_nums', [1]), ('train_size', [1, 3, 8, 8])],
    'train.optim_g': [('momentum', 0.9), ('capturable', True), ('foreach', 'yes'), ('amsgrad', 'x'),
                      ('betas', [0.9]), ('betas', [2, 3])],
    'train.scheduler': [('periods', [1]), ('milestones', 'x'), ('T_max', 0), ('gamma', 'abc'), ('eta_min', [1])],
    'train.pixel_opt': [('loss_weight', 'abc'), ('reduction', 'median'), ('toY', 'yes'), ('eps', -1)],
    'datasets.train': [('color', 'y'), ('prefetch_mode', 'cpu'), ('num_prefetch_queue', 'x'),
                       ('persistent_workers', True), ('pin_memory', 'x'), ('mean', [0.5])],
    'val.metrics.psnr': [('crop_border', 'x'), ('crop_border', -4), ('test_y_channel', 'x'), ('better', 'upper')],
    'train': [('compile', True), ('ema_decay', 0.999), ('channels_last', 'x'), ('autocast', 'fp8'),
              ('use_grad_clip', True), ('grad_clip_norm', 'abc')],
    'logger': [('wandb', {'project': 'fuzz', 'resume_id': None}), ('use_tb_logger', True)],
    '': [('scale', None), ('scale', 2), ('num_gpu', 'x'), ('num_gpu', 8), ('dist_params', 'x'), ('rank', 'x')],
}
# how often each kind is drawn: the two single-key kinds (crop, wandb) rarely, so the sample covers the keys
KIND_WEIGHTS = {'delete': 10, 'wrong-type': 14, 'number': 10, 'rename': 8, 'nesting': 6, 'string': 6, 'path': 5,
                'yaml': 8, 'type-name': 8, 'argument': 12, 'crop': 2, 'wandb': 1}
YAML_DAMAGE = ['unclosed-bracket', 'unclosed-brace', 'tab-indent', 'duplicate-key', 'bad-indent', 'truncated',
               'binary-junk', 'empty-file', 'only-comment', 'alias-self', 'alias-bomb', 'python-tag', 'top-scalar',
               'unterminated-quote', 'bom']


@dataclass(frozen=True)
class Mutation:
    id: str  # short, stable for a seed: '<index>-<kind>-<key>'
    description: str  # one line: what was done
    text: str  # the damaged YAML file
    key: str  # the dotted key touched ('' for the whole file)


def leaf_paths(node, prefix=()):
    """Every dotted path in a nested dict, sections included, in file order."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            path = prefix + (key,)
            found.append(path)
            found.extend(leaf_paths(value, path))
    return found


def _get(opt, path):
    for key in path:
        opt = opt[key]
    return opt


def _set(opt, path, value):
    node = opt
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


def _dump(opt):
    return yaml.safe_dump(opt, sort_keys=False, allow_unicode=True)


def _dotted(path):
    return '.'.join(str(p) for p in path)


def _damage(text, kind, rng):
    lines = text.splitlines()
    at = rng.randrange(len(lines))
    if kind == 'unclosed-bracket':
        return text.replace('[', '[[', 1) if '[' in text else text + 'x: [1, 2\n'
    if kind == 'unclosed-brace':
        return text + 'extra: {a: 1\n'
    if kind == 'tab-indent':
        lines[at] = '\t' + lines[at]
    elif kind == 'duplicate-key':
        lines.insert(at, lines[at]) if not lines[at].startswith(' ') else lines.insert(0, lines[0])
    elif kind == 'bad-indent':
        lines[at] = '   ' + lines[at]
    elif kind == 'truncated':
        return text[:rng.randrange(1, len(text))]
    elif kind == 'binary-junk':
        return text[:len(text) // 2] + '\x00\x01\x02\xff' + text[len(text) // 2:]
    elif kind == 'empty-file':
        return ''
    elif kind == 'only-comment':
        return '# nothing here\n'
    elif kind == 'alias-self':
        return text + 'loop: &a [*a]\n'
    elif kind == 'alias-bomb':
        bomb = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
        for i in range(1, 9):
            prev, cur = chr(ord('a') + i - 1), chr(ord('a') + i)
            bomb.append(f'{cur}: &{cur} [{", ".join(["*" + prev] * 9)}]')
        return text + '\n'.join(bomb) + '\n'
    elif kind == 'python-tag':
        return text + "evil: !!python/object/apply:os.system ['touch pwned']\n"
    elif kind == 'top-scalar':
        return 'just a string\n'
    elif kind == 'unterminated-quote':
        lines[at] = lines[at] + ' "oops'
    elif kind == 'bom':
        return '\ufeff' + text
    return '\n'.join(lines) + '\n'


def _one(base, index, rng, paths, string_paths, number_paths):
    """Mutation ``index`` drawn with ``rng``: (kind, description, text, key)."""
    opt = copy.deepcopy(base)
    kind = rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0]
    if kind == 'delete':
        path = rng.choice(paths)
        parent = _get(opt, path[:-1])
        del parent[path[-1]]
        return kind, f'delete {_dotted(path)}', _dump(opt), _dotted(path)
    if kind == 'wrong-type':
        path = rng.choice(paths)
        name = rng.choice(sorted(WRONG_TYPES))
        _set(opt, path, copy.deepcopy(WRONG_TYPES[name]))
        return f'{kind}-{name}', f'{_dotted(path)} set to a {name}', _dump(opt), _dotted(path)
    if kind == 'number':
        path = rng.choice(number_paths)
        name = rng.choice(sorted(NUMBERS))
        _set(opt, path, NUMBERS[name])
        return f'{kind}-{name}', f'{_dotted(path)} set to {NUMBERS[name]!r:.30}', _dump(opt), _dotted(path)
    if kind == 'rename':
        path = rng.choice(paths)
        parent = _get(opt, path[:-1])
        old = path[-1]
        new = rng.choice([old + 's', old[:-1], old.upper(), old.replace('_', '-') if '_' in old else old + '_'])
        items = [(new if k == old else k, v) for k, v in parent.items()]
        parent.clear()
        parent.update(items)
        return kind, f'rename {_dotted(path)} to {new}', _dump(opt), _dotted(path)
    if kind == 'nesting':
        path = rng.choice(paths)
        value = _get(opt, path)
        del _get(opt, path[:-1])[path[-1]]
        sections = [p for p in paths if isinstance(_get(base, p), dict) and p != path[:-1] and p[:len(path)] != path]
        target = rng.choice(sections + [()])
        _set(opt, target + (path[-1],), value)
        where = _dotted(target) or 'the top level'
        return kind, f'move {_dotted(path)} under {where}', _dump(opt), _dotted(path)
    if kind == 'string':
        path = rng.choice(string_paths)
        name = rng.choice(sorted(STRINGS))
        _set(opt, path, STRINGS[name])
        return f'{kind}-{name}', f'{_dotted(path)} set to a {name} string', _dump(opt), _dotted(path)
    if kind == 'path':
        path = rng.choice(string_paths)
        name = rng.choice(sorted(PATHS))
        _set(opt, path, PATHS[name])
        return f'{kind}-{name}', f'{_dotted(path)} set to {PATHS[name]}', _dump(opt), _dotted(path)
    if kind == 'yaml':
        name = rng.choice(YAML_DAMAGE)
        return f'{kind}-{name}', f'YAML damage: {name}', _damage(_dump(opt), name, rng), ''
    if kind == 'type-name':
        keys = [k for k in sorted(TYPE_NAMES) if _has(base, k)]
        dotted = rng.choice(keys)
        name = rng.choice(TYPE_NAMES[dotted])
        _set(opt, tuple(dotted.split('.')), name)
        return kind, f'{dotted} set to {name}', _dump(opt), dotted
    if kind == 'argument':
        keys = [k for k in sorted(EXTRA_ARGUMENTS) if k == '' or _has(base, k)]
        dotted = rng.choice(keys)
        arg, value = rng.choice(EXTRA_ARGUMENTS[dotted])
        _set(opt, tuple(dotted.split('.')) + (arg,) if dotted else (arg,), copy.deepcopy(value))
        key = f'{dotted}.{arg}' if dotted else arg
        return kind, f'{key} set to {value!r:.40}', _dump(opt), key
    if kind == 'crop':
        size = rng.choice([48, 64, 256, 4096])
        _set(opt, ('datasets', 'train', 'gt_size'), size)
        return kind, f'datasets.train.gt_size {size}, larger than the data', _dump(opt), 'datasets.train.gt_size'
    # wandb: an optional back-end that needs a package
    _set(opt, ('logger', 'wandb'), {'project': rng.choice(['fuzz', 'ünï']), 'resume_id': None})
    return kind, 'logger.wandb.project set', _dump(opt), 'logger.wandb'


def _has(opt, dotted):
    node = opt
    for key in dotted.split('.'):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def mutations(base, seed, count):
    """``count`` mutations of the option dict ``base``, deterministic for ``seed``.

    Returns:
        list[Mutation]: ids ``'<index>-<kind>'`` with the touched key, unique in the list.
    """
    paths = leaf_paths(base)
    string_paths = [p for p in paths if isinstance(_get(base, p), str)]
    number_paths = [p for p in paths if isinstance(_get(base, p), (int, float)) and not isinstance(_get(base, p), bool)]
    found = []
    for index in range(count):
        rng = random.Random(f'{seed}-{index}')  # each mutation on its own stream: the k-th is the same in any count
        kind, description, text, key = _one(base, index, rng, paths, string_paths, number_paths)
        found.append(Mutation(f'{index:04d}-{kind}-{key or "file"}', description, text, key))
    return found


def mutations_of_bases(bases, seed, count):
    """``count`` mutations drawn in turn from ``bases`` (``[(name, options)]``): mutation ``i`` damages base
    ``i % len(bases)``, deterministic for ``seed``; ids ``'<index>-<base>-<kind>-<key>'``."""
    drawn = {}
    found = []
    for index in range(count):
        name, base = bases[index % len(bases)]
        if name not in drawn:
            paths = leaf_paths(base)
            drawn[name] = (paths, [p for p in paths if isinstance(_get(base, p), str)],
                           [p for p in paths if isinstance(_get(base, p), (int, float))
                            and not isinstance(_get(base, p), bool)])
        rng = random.Random(f'{seed}-{index}')
        kind, description, text, key = _one(base, index, rng, *drawn[name])
        found.append(Mutation(f'{index:04d}-{name}-{kind}-{key or "file"}', f'{name}: {description}', text, key))
    return found
