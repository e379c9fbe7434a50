"""The house rules of the package layout: imports point one way, from a floor to the same floor or below.

Floors, bottom up, as ``../shared/DESIGN.md`` maps them:

0. ground: ``version``, ``compat``, ``errors``, ``fileio`` (the one atomic writer), ``locks`` (one owner per output),
   ``registry`` (registration helpers), ``cli`` (argparse with one-line errors; the map puts it on top, but the
   engine's ``train.py``/``test.py`` parsers need it and it needs only the ground, so it lives here)
1. the registered pieces ``archs``, ``losses``, ``metrics``; ``visualize`` (draws arrays it is given); ``ops`` (pure
   tensor helpers that models and inference share: tiling)
2. ``models`` (training and validation; owns its schedulers and autocast modes)
3. ``data``
4. ``engine`` (how BasicSR runs here: options and their checks, pipelines, checkpoints, the experiment layout)
5. ``inference`` (from a model spec to a runner, once)
6. ``evaluation`` (test sets, the leaderboard, reports)
7. ``bench`` and the thin entry points: ``train``, ``test``, ``demo``, ``ladder`` (the ladder's runs and budgets);
   ``commands`` (every command's parser and main, and the ``basicsr-nafnet`` dispatcher over them)

The package's own ``__init__`` (which imports the registry surface to register it) is the one exception.
"""
import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, 'basicsr_nafnet')
FLOORS = {
    'version': 0, 'compat': 0, 'errors': 0, 'fileio': 0, 'locks': 0, 'registry': 0, 'cli': 0,
    'archs': 1, 'losses': 1, 'metrics': 1, 'visualize': 1, 'ops': 1,
    'models': 2,
    'data': 3,
    'engine': 4,
    'inference': 5,
    'evaluation': 6,
    'bench': 7, 'commands': 7,
    'train': 7, 'test': 7, 'demo': 7, 'ladder': 7,
}
ENTRY_POINTS = ('train', 'test', 'demo', 'ladder')
# rooms that may use less than their floor allows
ONLY_GROUND = {'visualize'}  # draws what it is given: no network, no data reading of ours


def _modules():
    for folder, _, files in os.walk(PACKAGE):
        for name in sorted(files):
            if name.endswith('.py'):
                path = os.path.join(folder, name)
                parts = os.path.relpath(path, PACKAGE)[:-3].split(os.sep)
                yield path, parts


def _imports(path, parts):
    """Top-level rooms of ``basicsr_nafnet`` that the module at ``path`` imports."""
    package = ['basicsr_nafnet'] + (parts[:-1] if parts[-1] != '__init__' else parts[:-1])
    for node in ast.walk(ast.parse(open(path, encoding='utf-8').read())):
        names = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = base + (node.module.split('.') if node.module else [])
                names = [target + [alias.name] if len(target) == 1 else target for alias in node.names]
            elif node.module and node.module.split('.')[0] == 'basicsr_nafnet':
                target = node.module.split('.')
                names = [target + [alias.name] if len(target) == 1 else target for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name.split('.') for alias in node.names if alias.name.split('.')[0] == 'basicsr_nafnet']
        for name in names:
            if len(name) > 1:
                yield name[1], node.lineno


MODULES = [(path, parts) for path, parts in _modules() if parts != ['__init__']]


def test_every_room_has_a_floor():
    rooms = {parts[0] for _, parts in MODULES}
    assert rooms == set(FLOORS), f'rooms without a floor: {rooms - set(FLOORS)}; floors without a room: ' \
                                 f'{set(FLOORS) - rooms}'


@pytest.mark.parametrize('path,parts', MODULES, ids=['.'.join(p) for _, p in MODULES])
def test_imports_point_down(path, parts):
    room = parts[0]
    upward = []
    for target, line in _imports(path, parts):
        if target not in FLOORS:
            continue  # a module of the same package spelled relatively, e.g. `from . import report`
        if FLOORS[target] > FLOORS[room] or (room in ONLY_GROUND and target != room and FLOORS[target] > 0):
            upward.append(f'line {line}: {room} (floor {FLOORS[room]}) imports {target} (floor {FLOORS[target]})')
    assert not upward, '\n'.join(upward)


def test_the_top_level_holds_only_ground_and_entry_points():
    top = sorted(parts[0] for _, parts in MODULES if len(parts) == 1)
    assert top == sorted(name for name, floor in FLOORS.items() if floor == 0 or name in ENTRY_POINTS)


@pytest.mark.parametrize('path', sorted(p for p, parts in MODULES if parts[0] == 'bench'))
def test_benchmark_modules_stay_small(path):
    with open(path, encoding='utf-8') as f:
        assert sum(1 for _ in f) <= 250
