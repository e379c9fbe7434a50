"""Test with BasicSR: ``python basicsr_nafnet/test.py -opt options/test/GoPro/NAFNet-width64.yml``."""
import os.path as osp
import sys

if __package__ in (None, ''):  # run as a script: make the package importable by its name
    sys.path[0] = osp.dirname(osp.dirname(osp.abspath(__file__)))

import basicsr_nafnet  # noqa: E402,F401  (shims and registration before basicsr)
from basicsr_nafnet.cli import command  # noqa: E402
from basicsr_nafnet.engine.pipeline import test  # noqa: E402
from basicsr_nafnet.inference.spec import resolve_weights  # noqa: E402


@command(interrupted='testing stopped; the result images written so far are complete')
def main(argv=None, prog=None):
    test(argv=argv, prog=prog, resolve_weights=resolve_weights)  # model-zoo names and URLs in the options


if __name__ == '__main__':
    sys.exit(main())
