"""The catalogue as a whole: large, every case named once, every command covered, across all families.

Reads each family's table (test_bad_input_<family>.py, imported by name: pytest imports them under the same
names, so this adds no second copy).
"""
import importlib

from bad_input_harness import COMMANDS, FAMILIES, REPORT_ORDER


def all_cases():
    return [case for family in FAMILIES for case in importlib.import_module(f'test_bad_input_{family}').CASES]


def test_the_catalogue_is_large_and_covers_every_command():
    cases = all_cases()
    assert len(cases) >= 60
    assert len({c[0] for c in cases}) == len(cases)
    assert set(COMMANDS) <= {c[1] for c in cases}
    assert all(sum(c[1] == command for c in cases) >= 5 for command in COMMANDS if command != 'demo')
    assert set(REPORT_ORDER) == set(COMMANDS)  # every command has its place in the written catalogue
