# Sourced by scripts/test.sh and scripts/demo.sh: create .venv and install the project into it.
# torch and torchvision are installed first, pinned, so pip never resolves another (multi-GB) torch.
# Re-running with everything in place only checks and takes seconds.
TORCH_PIN="torch==2.14.1 torchvision==0.29.1"
if [ ! -x .venv/bin/python ]; then
    echo "[setup] creating .venv"
    python3 -m venv .venv
fi
if ! .venv/bin/python -c "import torch, torchvision" 2>/dev/null; then
    echo "[setup] installing $TORCH_PIN (about a minute)"
    .venv/bin/pip install --disable-pip-version-check -q $TORCH_PIN
fi
stamp=.venv/.basicsr_nafnet-installed
if [ ! -f "$stamp" ] || [ setup.py -nt "$stamp" ] || ! .venv/bin/python -c "import basicsr_nafnet" 2>/dev/null; then
    echo "[setup] installing basicsr-nafnet and its dependencies"
    .venv/bin/pip install --disable-pip-version-check -q -e ".[test]"
    touch "$stamp"
fi
