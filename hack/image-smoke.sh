#!/usr/bin/env bash
# Build every CPU image and run the compose stack for real, offline (make image-smoke; root needed).
#
#   bash hack/image-smoke.sh            # everything: engine, base, wheelhouse, images, stack, checks, figures
#   bash hack/image-smoke.sh prepare    # only the engine packages, the base image and the wheelhouse
#
# No image registry is needed: the base image is Debian bookworm made with debootstrap (Python 3.11 from
# Debian) and imported with `docker import`; Python packages come from a wheelhouse the host's pip
# downloads first, installed in the image with --no-index; the backend image takes the dashboard that
# hack/setup.sh built on the host (DASHBOARD=dist: npm needs its registry). dockerd runs without its default
# bridge or iptables rules, and builds and containers use the host's network, so all traffic stays on loopback.
#
# Environment:
#   SMOKE_CACHE   where the base rootfs, the wheelhouse and the engine's data live (default /var/cache/dayu-smoke)
#   SMOKE_KEEP=1  leave the stack running at the end (for a look), still stopping a dockerd started here
#   SMOKE_TIMEOUT seconds to wait for results (default 600)
#   SMOKE_DASHBOARD=build  build the dashboard inside the backend's image build (the Dockerfile's default path:
#                 `npm ci` reaches the npm registry) on a Node image made of the base and the host's Node.js,
#                 instead of taking the host-built frontend/dist (dist, the default)
# The script stops only what it started: the compose project it brought up and, when it had to start
# dockerd, that dockerd (by its pid).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cache="${SMOKE_CACHE:-/var/cache/dayu-smoke}"
timeout_s="${SMOKE_TIMEOUT:-600}"
project="dayu-smoke-$$"
log_tag=image-smoke
# shellcheck source=hack/image-lib.sh
. "$root/hack/image-lib.sh"
engine_env
arch="$(host_arch)"
base_tag="dayu-smoke/python:3.11-bookworm"
image_prefix="dayu-smoke/local" # REG/REPO of the compose file
figures="$cache/figures.txt"
dashboard="${SMOKE_DASHBOARD:-dist}"
node_tag="dayu-smoke/node:20-bookworm"

prepare() {
  [ "$(id -u)" = 0 ] || die "run as root (dockerd, debootstrap)"
  install_packages docker.io docker-compose debootstrap
  bash hack/setup.sh
  [ -f frontend/dist/index.html ] || die "frontend/dist was not built (Node.js >= 20.19 missing?): the backend image needs it"
  start_engine
  make_base "$arch" "$base_tag"
  make_wheelhouse "$arch"
  case "$dashboard" in
    dist) ;;
    build) make_node_image ;;
    *) die "SMOKE_DASHBOARD=$dashboard: expected dist or build" ;;
  esac
}

# No registry, no node image: the base with the host's Node.js (Debian's nodejs package layout) added.
make_node_image() {
  docker image inspect "$node_tag" >/dev/null 2>&1 && return 0
  [ -x /usr/bin/node ] && [ -d /usr/lib/node_modules/npm ] || die "SMOKE_DASHBOARD=build needs /usr/bin/node and npm"
  local dir
  dir="$(mktemp -d "$cache/node.XXXXXX")"
  mkdir -p "$dir/usr/bin" "$dir/usr/lib/node_modules"
  cp /usr/bin/node "$dir/usr/bin/node"
  cp -a /usr/lib/node_modules/npm "$dir/usr/lib/node_modules/npm"
  printf 'FROM %s\nCOPY usr /usr\nRUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/bin/npm && node --version\n' \
    "$base_tag" >"$dir/Dockerfile"
  log "making $node_tag (the base with the host's Node.js $(node --version))"
  DOCKER_BUILDKIT=1 docker build --network host --tag "$node_tag" "$dir" >"$cache/build-node.log" 2>&1 \
    || die "making $node_tag failed (log: $cache/build-node.log)"
  rm -rf "$dir"
}

# --- images ----------------------------------------------------------------------------------------------------
build_images() {
  local name start end npm_ca=()
  : >"$cache/build-times.txt"
  # npm in the build trusts what the host's npm trusts (a TLS-inspecting proxy's CA, say): the build secret.
  if [ "$dashboard" = build ]; then
    local ca
    ca="$(npm config get cafile 2>/dev/null || true)"
    [ -f "$ca" ] || ca="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"
    [ -f "$ca" ] && npm_ca=(--secret "id=npm_ca,src=$ca")
  fi
  # The CPU images (each one's target is its name); the host's architecture.
  for name in $(awk '!/^#/ && NF == 5 && $3 == "cpu" {print $1}' hack/images.list); do
    start=$(date +%s)
    log "building $name"
    DOCKER_BUILDKIT=1 docker build --network host --file hack/docker/Dockerfile --target "$name" \
      --build-arg VARIANT=cpu --build-arg PYTHON_IMAGE="$base_tag" --build-arg NODE_IMAGE="$node_tag" \
      --build-arg DASHBOARD="$dashboard" "${npm_ca[@]}" \
      --build-arg PIP_NO_INDEX=1 --build-arg PIP_FIND_LINKS="/wheelhouse/linux-$arch" \
      --platform "$(docker_platform "$arch")" --tag "$image_prefix/$name:smoke" . >"$cache/build-$name.log" 2>&1 \
      || {
        tail -n 30 "$cache/build-$name.log" >&2
        die "building $name failed (log: $cache/build-$name.log)"
      }
    end=$(date +%s)
    echo "$name $((end - start))" >>"$cache/build-times.txt"
  done
}

# --- the stack ---------------------------------------------------------------------------------------------------
free_port() {
  .venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

compose() {
  docker-compose --project-name "$project" --file docker-compose.yml "$@"
}

teardown() {
  if [ "${SMOKE_KEEP:-0}" != 1 ] && [ -n "${DAYU_TOKEN:-}" ]; then
    log "tearing the stack down"
    compose down --volumes --timeout 20 >/dev/null 2>&1 || true
  fi
  stop_engine
  return 0
}

run_stack() {
  local var taken=""
  [ "$dashboard" = dist ] && taken=frontend/dist # the served files must be these very ones
  export DAYU_TOKEN REG="${image_prefix%%/*}" REPO="${image_prefix#*/}" TAG=smoke DAYU_LISTEN=127.0.0.1
  DAYU_TOKEN="$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(16))')"
  # A free port for every container (the compose file's DAYU_*_PORT variables), never the defaults.
  for var in $(grep -o '\${DAYU_[A-Z0-9_]*_PORT:-' docker-compose.yml | sed 's/^\${//; s/:-$//' | sort -u); do
    export "$var=$(free_port)"
  done
  local t0
  t0=$(date +%s)
  log "starting the compose stack (project $project)"
  compose up -d >"$cache/compose-up.log" 2>&1 || {
    tail -n 30 "$cache/compose-up.log" >&2
    compose ps >&2 || true
    die "docker-compose up failed"
  }
  .venv/bin/python hack/smoke_check.py --url "http://127.0.0.1:$DAYU_BACKEND_PORT" --token "$DAYU_TOKEN" \
    --project "$project" --timeout "$timeout_s" --started "$t0" --figures "$figures" \
    ${taken:+--dashboard "$taken"}
}

report() {
  {
    echo "== machine: $(uname -m), $(nproc) cores; load average at the start $load_start, at the end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "== build time per image (s)"
    cat "$cache/build-times.txt"
    echo "== image sizes"
    docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep "^$image_prefix/" | sort
    cat "$figures"
  } | tee "$cache/report.txt"
}

main() {
  trap teardown EXIT # whatever fails: the stack and a dockerd started here are stopped
  load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
  prepare
  [ "${1:-}" = prepare ] && return 0
  build_images
  run_stack
  report
}

main "$@"
