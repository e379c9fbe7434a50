# Sourced by the prepared GPU commands (scripts/gpu_check.sh, scripts/ladder_gpu.sh), from the checkout's root:
# sets $python and PYTHONPATH so this checkout imports on the device machine, which lacks basicsr, lmdb, mmengine
# and a few of their needs. Where one is missing, the wheels in .whl/ (bash scripts/gpu_wheels.sh) are installed
# into /tmp/site (GPU_CHECK_SITE) and put on PYTHONPATH; this checkout goes first. PYTHON picks the interpreter.
# Returns 2 (with one line on stderr) when it cannot.
python=${PYTHON:-python3}
site=${GPU_CHECK_SITE:-/tmp/site}

# the modules our code imports that the device image does not have (see scripts/gpu_wheels.sh)
missing=$("$python" - <<'PYEOF'
import importlib.util
print(' '.join(m for m in ('basicsr', 'lmdb', 'mmengine', 'addict', 'yapf', 'platformdirs', 'termcolor')
               if importlib.util.find_spec(m) is None))
PYEOF
) || { echo "error: $python does not run" >&2; return 2; }
if [ -n "$missing" ]; then
    if ! ls .whl/*.whl > /dev/null 2>&1; then
        echo "error: $python lacks $missing and .whl/ holds no wheels: run bash scripts/gpu_wheels.sh first" >&2
        return 2
    fi
    echo "installing the carried wheels into $site ($python lacks: $missing)"
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
        .whl/*.whl || { echo "error: installing .whl/*.whl into $site failed" >&2; return 2; }
    export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1
