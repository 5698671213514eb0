#!/usr/bin/env bash
# Bring Dayu up or down:  ACTION=start|stop TEMPLATE=template/ bash dayu.sh
# Sets up its environment itself (.venv via hack/setup.sh). With `runtime: local` in base.yaml the backend
# and the datasource run in the background on this machine; with `runtime: kubernetes` they are deployed
# onto the cluster of the current kubeconfig.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
action="${ACTION:-}"
template="${TEMPLATE:-template/}"
case "$action" in
  start|stop) ;;
  *) echo "usage: ACTION=start|stop TEMPLATE=<dir> bash dayu.sh" >&2; exit 2 ;;
esac
case "$template" in
  /*) ;;
  *) template="$PWD/$template" ;;
esac
if [ ! -f "$template/base.yaml" ]; then
  echo "dayu: $template/base.yaml not found" >&2
  exit 2
fi
cd "$root"
bash hack/setup.sh
# DAYU_HOME: where .dayu/ (token, run directory, state) lives; default: the repository.
exec "$root/.venv/bin/python" -m backend.launcher "$action" --template "$template" --root "${DAYU_HOME:-$root}"
