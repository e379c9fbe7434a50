#!/usr/bin/env bash
# Set up .venv (once) and run the test suite. Extra arguments are passed to pytest.
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh -k loss -x # a subset
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_venv.sh
exec .venv/bin/python -m pytest "$@"
