"""``python -m basicsr_nafnet.commands <command> [args]``: the ``basicsr-nafnet`` dispatcher without the install."""
import sys

from . import main

sys.exit(main())
