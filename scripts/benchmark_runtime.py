#!/usr/bin/env python
"""``basicsr-nafnet benchmark-runtime`` run from a checkout.

The command lives in ``basicsr_nafnet/commands/benchmark_runtime.py``.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout too

from basicsr_nafnet.commands.benchmark_runtime import build_parser, main  # noqa: E402,F401

if __name__ == '__main__':
    sys.exit(main())
