"""Train with BasicSR: ``python basicsr_nafnet/train.py -opt options/NAFNet-GoPro.yml [--launcher pytorch]``."""
import os.path as osp
import sys

if __package__ in (None, ''):  # run as a script: make the package importable by its name
    sys.path[0] = osp.dirname(osp.dirname(osp.abspath(__file__)))

import basicsr_nafnet  # noqa: E402,F401  (shims and registration before basicsr)
from basicsr_nafnet.cli import command  # noqa: E402
from basicsr_nafnet.engine.pipeline import train  # noqa: E402
from basicsr_nafnet.inference.spec import resolve_weights  # noqa: E402


@command(interrupted='training stopped; the checkpoints and training states written so far are complete, '
         'continue with --auto_resume')
def main(argv=None, prog=None):
    train(argv=argv, prog=prog, resolve_weights=resolve_weights)  # model-zoo names and URLs in the options


if __name__ == '__main__':
    sys.exit(main())
