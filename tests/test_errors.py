"""errors.py: one_line, the one helper that quotes other libraries' messages inside one-line reports."""
from basicsr_nafnet.errors import one_line


def test_one_line_joins_white_space_and_cuts():
    err = ValueError('first line\n   second\tline  ')
    assert one_line(err) == 'first line second line'
    assert one_line(err, 10) == 'first line'
    assert one_line('') == '' and one_line(None) == 'None'
