#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv and install Dayu into it.
# Idempotent: when pyproject.toml has not changed since the last install it returns at once.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv"
extras="${DAYU_EXTRAS:-dev}"
python="${PYTHON:-python3}"
stamp="$venv/.dayu-installed"
want="$(cat pyproject.toml hack/setup.sh | sha256sum | cut -d' ' -f1) extras=$extras"

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "dayu: Python >= 3.11 is required ($python is $("$python" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "dayu: creating $venv" >&2
  "$python" -m venv "$venv"
fi
echo "dayu: installing the project into $venv (extras: $extras)" >&2
log="$venv/setup.log"
install() {
  "$venv/bin/python" -m pip install -q --upgrade pip || true
  "$venv/bin/python" -m pip install -q -e ".[$extras]" || return 1
  # Only the PP-OCRv4 model files of rapidocr are used (our own pre/post-processing); its own dependencies
  # would pull the non-headless OpenCV, which needs libGL and clashes with opencv-python-headless.
  "$venv/bin/python" -m pip install -q --no-deps "rapidocr-onnxruntime==1.4.4" || return 1
}
if ! install >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "dayu: installation failed (full log: $log)" >&2
  exit 1
fi
echo "$want" >"$stamp"
