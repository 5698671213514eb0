#!/usr/bin/env bash
# Build every CPU image and run the compose stack for real, offline (make image-smoke; root needed).
#
#   bash hack/image-smoke.sh            # everything: engine, base, wheelhouse, images, stack, checks, figures
#   bash hack/image-smoke.sh prepare    # only the engine packages, the base image and the wheelhouse
#
# No image registry is needed: the base image is Debian bookworm made with debootstrap (Python 3.11 from
# Debian) and imported with `docker import`; Python packages come from a wheelhouse the host's pip
# downloads first, installed in the image with --no-index. dockerd runs without its default bridge or
# iptables rules, and builds and containers use the host's network, so all traffic stays on loopback.
#
# Environment:
#   SMOKE_CACHE   where the base rootfs, the wheelhouse and the engine's data live (default /var/cache/dayu-smoke)
#   SMOKE_KEEP=1  leave the stack running at the end (for a look), still stopping a dockerd started here
#   SMOKE_TIMEOUT seconds to wait for results (default 600)
# The script stops only what it started: the compose project it brought up and, when it had to start
# dockerd, that dockerd (by its pid).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cache="${SMOKE_CACHE:-/var/cache/dayu-smoke}"
timeout_s="${SMOKE_TIMEOUT:-600}"
project="dayu-smoke-$$"
export DOCKER_HOST="unix://$cache/docker.sock"
docker_bin=/usr/bin/docker # Debian's client: BuildKit builds without the buildx plugin
base_tag="dayu-smoke/python:3.11-bookworm"
image_prefix="dayu-smoke/local" # REG/REPO of the compose file
started_dockerd=""
figures="$cache/figures.txt"
log() { echo "image-smoke: $*" >&2; }
die() {
  log "$*"
  exit 1
}
docker() { "$docker_bin" "$@"; }

# --- the engine ---------------------------------------------------------------------------------------------
install_packages() {
  local missing=() pkg
  for pkg in docker.io docker-compose debootstrap; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} yourself"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

start_engine() {
  mkdir -p "$cache"
  if docker info >/dev/null 2>&1; then
    return 0
  fi
  log "starting dockerd (no bridge, no iptables; data in $cache/docker)"
  dockerd --host "$DOCKER_HOST" --data-root "$cache/docker" --exec-root "$cache/exec" \
    --pidfile "$cache/dockerd.pid" --bridge=none --iptables=false --ip6tables=false \
    >"$cache/dockerd.log" 2>&1 &
  started_dockerd=$!
  local i
  for i in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    kill -0 "$started_dockerd" 2>/dev/null || die "dockerd exited; see $cache/dockerd.log"
    sleep 1
  done
  die "dockerd did not answer within 60 s; see $cache/dockerd.log"
}

stop_engine() {
  [ -n "$started_dockerd" ] || return 0
  log "stopping the dockerd started here (pid $started_dockerd)"
  kill -TERM "$started_dockerd" 2>/dev/null || true
  local i
  for i in $(seq 1 30); do
    kill -0 "$started_dockerd" 2>/dev/null || return 0
    sleep 1
  done
  kill -KILL "$started_dockerd" 2>/dev/null || true
}

# --- the base image and the wheelhouse -----------------------------------------------------------------------
make_base() {
  if docker image inspect "$base_tag" >/dev/null 2>&1; then
    return 0
  fi
  local rootfs="$cache/rootfs"
  if [ ! -x "$rootfs/usr/bin/python3.11" ]; then
    log "debootstrap bookworm into $rootfs (several minutes)"
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include=python3,python3-pip,python-is-python3,ca-certificates \
      bookworm "$rootfs" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 \
      || die "debootstrap failed; see $cache/debootstrap.log"
  fi
  # A whole system of its own: pip may install into its Python (PEP 668's marker removed).
  rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  log "importing the base image $base_tag"
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
    --change 'CMD ["python3"]' - "$base_tag" >/dev/null
}

make_wheelhouse() {
  local wheels="$root/hack/docker/wheelhouse" req
  req="$(mktemp)"
  .venv/bin/python -c "import tomllib; d = tomllib.load(open('pyproject.toml', 'rb')); print(*d['project']['dependencies'], *d['build-system']['requires'], sep='\n')" >"$req"
  echo "rapidocr-onnxruntime==1.4.4" >>"$req"
  log "wheelhouse: pip download into hack/docker/wheelhouse"
  mkdir -p "$wheels"
  .venv/bin/python -m pip download -q --only-binary=:all: --dest "$wheels" --requirement "$req" >/dev/null \
    || die "pip download failed"
  rm -f "$req"
}

prepare() {
  [ "$(id -u)" = 0 ] || die "run as root (dockerd, debootstrap)"
  install_packages
  bash hack/setup.sh
  start_engine
  make_base
  make_wheelhouse
}

# --- images ----------------------------------------------------------------------------------------------------
build_images() {
  local name start end
  : >"$cache/build-times.txt"
  # The CPU images (each one's target is its name); the host's architecture.
  for name in $(awk '!/^#/ && NF == 5 && $3 == "cpu" {print $1}' hack/images.list); do
    start=$(date +%s)
    log "building $name"
    DOCKER_BUILDKIT=1 docker build --network host --file hack/docker/Dockerfile --target "$name" \
      --build-arg VARIANT=cpu --build-arg PYTHON_IMAGE="$base_tag" --build-arg NODE_IMAGE="$base_tag" \
      --build-arg PIP_NO_INDEX=1 --build-arg PIP_FIND_LINKS=/wheelhouse --build-arg DASHBOARD=skip \
      --platform "$(platform)" --tag "$image_prefix/$name:smoke" . >"$cache/build-$name.log" 2>&1 \
      || {
        tail -n 30 "$cache/build-$name.log" >&2
        die "building $name failed (log: $cache/build-$name.log)"
      }
    end=$(date +%s)
    echo "$name $((end - start))" >>"$cache/build-times.txt"
  done
}

platform() {
  case "$(uname -m)" in
    x86_64) echo linux/amd64 ;;
    aarch64) echo linux/arm64 ;;
    *) die "unknown architecture $(uname -m)" ;;
  esac
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
}

run_stack() {
  local var
  export DAYU_TOKEN REG="${image_prefix%%/*}" REPO="${image_prefix#*/}" TAG=smoke DAYU_LISTEN=127.0.0.1
  DAYU_TOKEN="$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(16))')"
  # A free port for every container (the compose file's DAYU_*_PORT variables), never the defaults.
  for var in $(grep -o '\${DAYU_[A-Z0-9_]*_PORT:-' docker-compose.yml | sed 's/^\${//; s/:-$//' | sort -u); do
    export "$var=$(free_port)"
  done
  trap teardown EXIT
  local t0
  t0=$(date +%s)
  log "starting the compose stack (project $project)"
  compose up -d >"$cache/compose-up.log" 2>&1 || {
    tail -n 30 "$cache/compose-up.log" >&2
    compose ps >&2 || true
    die "docker-compose up failed"
  }
  .venv/bin/python hack/smoke_check.py --url "http://127.0.0.1:$DAYU_BACKEND_PORT" --token "$DAYU_TOKEN" \
    --project "$project" --timeout "$timeout_s" --started "$t0" --figures "$figures"
}

report() {
  {
    echo "== build time per image (s)"
    cat "$cache/build-times.txt"
    echo "== image sizes"
    docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep "^$image_prefix/" | sort
    cat "$figures"
  } | tee "$cache/report.txt"
}

main() {
  prepare
  [ "${1:-}" = prepare ] && {
    stop_engine
    return 0
  }
  build_images
  run_stack
  report
}

main "$@"
