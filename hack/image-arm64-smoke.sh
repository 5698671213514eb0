#!/usr/bin/env bash
# One arm64 image built and started on an amd64 machine under QEMU user emulation, offline
# (make image-arm64-smoke; root needed).
#
#   bash hack/image-arm64-smoke.sh             # the scheduler image
#   SMOKE_IMAGE=monitor bash hack/image-arm64-smoke.sh
#
# Steps: Debian's qemu-user-static, its aarch64 interpreter registered with binfmt_misc (flag F: the kernel
# keeps the interpreter open, so it runs inside chroots and containers), an arm64 bookworm base made with a
# foreign debootstrap whose second stage runs under emulation, an arm64 wheelhouse (`pip download` for
# manylinux aarch64, Python 3.11), `docker build --platform linux/arm64` of one CPU image with the wheelhouse,
# then the container started with host networking until its /health answers and Docker reports it healthy.
#
# Environment:
#   SMOKE_CACHE    where the arm64 rootfs and the engine's data live (default /var/cache/dayu-smoke-arm64;
#                  its own dockerd, so it can run beside `make image-smoke`)
#   SMOKE_IMAGE    the CPU image to build (default scheduler)
#   SMOKE_TIMEOUT  seconds to wait for the started container's health (default 600)
# Stops only what it started: the container, a dockerd it started (by pid), and a binfmt registration and
# binfmt_misc mount it made.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cache="${SMOKE_CACHE:-/var/cache/dayu-smoke-arm64}"
name="${SMOKE_IMAGE:-scheduler}"
timeout_s="${SMOKE_TIMEOUT:-600}"
log_tag=image-arm64-smoke
# shellcheck source=hack/image-lib.sh
. "$root/hack/image-lib.sh"
engine_env
arch=arm64
base_tag="dayu-smoke/python:3.11-bookworm-arm64"
image="dayu-smoke/local/$name:smoke-arm64"
binfmt=/proc/sys/fs/binfmt_misc
mounted_binfmt=""
registered_binfmt=""
container=""
report="$cache/report.txt"

[ "$(host_arch)" != arm64 ] || die "this machine is arm64 already: make image-smoke builds arm64 natively"
awk -v n="$name" '!/^#/ && NF == 5 && $1 == n && $3 == "cpu" && $4 ~ /linux\/arm64/ {f = 1} END {exit !f}' \
  hack/images.list || die "$name is not a CPU image built for linux/arm64 in hack/images.list"

cleanup() {
  if [ -n "$container" ]; then
    docker rm -f "$container" >/dev/null 2>&1 || true
  fi
  stop_engine
  if [ -n "$registered_binfmt" ] && [ -e "$binfmt/$registered_binfmt" ]; then
    log "unregistering the binfmt entry $registered_binfmt registered here"
    echo -1 >"$binfmt/$registered_binfmt" || true
  fi
  if [ -n "$mounted_binfmt" ]; then
    umount "$binfmt" || true
  fi
  return 0
}

# qemu-user-static's aarch64 entry, registered with the kernel unless something already handles arm64 ELF files.
register_qemu() {
  if ! mountpoint -q "$binfmt"; then
    grep -qw binfmt_misc /proc/filesystems || die "this kernel has no binfmt_misc: arm64 programs cannot be emulated"
    mount -t binfmt_misc binfmt_misc "$binfmt" || die "cannot mount binfmt_misc on $binfmt"
    mounted_binfmt=1
  fi
  local entry
  for entry in "$binfmt"/qemu-aarch64*; do
    if [ -e "$entry" ] && grep -q '^enabled' "$entry"; then
      grep -q '^flags:.*F' "$entry" || die "$entry is registered without the F flag: containers cannot use it"
      log "binfmt: $(basename "$entry") already registered"
      return 0
    fi
  done
  local conf=/usr/lib/binfmt.d/qemu-aarch64.conf
  [ -f "$conf" ] || die "$conf missing (qemu-user-static)"
  # Debian's entry, with F added when missing: the interpreter is opened now, not looked up in a container.
  local line
  line="$(grep -v '^#' "$conf" | head -n 1)"
  case "${line##*:}" in
    *F*) ;;
    *) line="${line}F" ;;
  esac
  echo "$line" >"$binfmt/register" || die "the kernel refused the binfmt entry: $line"
  registered_binfmt="$(echo "$line" | cut -d: -f2)"
  log "binfmt: registered $registered_binfmt ($(grep '^interpreter' "$binfmt/$registered_binfmt"))"
}

build_image() {
  local t0
  t0=$(date +%s)
  log "building $name for linux/arm64 under emulation (slow)"
  DOCKER_BUILDKIT=1 docker build --network host --file hack/docker/Dockerfile --target "$name" \
    --build-arg VARIANT=cpu --build-arg PYTHON_IMAGE="$base_tag" --build-arg DASHBOARD=dist \
    --build-arg PIP_NO_INDEX=1 --build-arg PIP_FIND_LINKS="/wheelhouse/linux-$arch" \
    --platform linux/arm64 --tag "$image" . >"$cache/build-$name.log" 2>&1 || {
    tail -n 30 "$cache/build-$name.log" >&2
    die "building $name for arm64 failed (log: $cache/build-$name.log)"
  }
  echo "build $name (linux/arm64, emulated): $(($(date +%s) - t0)) s" >>"$report"
}

run_image() {
  local port token t0 state
  port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  token="$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(16))')"
  t0=$(date +%s)
  container="dayu-arm64-smoke-$$"
  log "starting $image as $container on 127.0.0.1:$port"
  # Emulated, the component takes many times longer to import its libraries: a longer start period than the
  # image's 60 s, so a slow start is not reported unhealthy.
  docker run -d --name "$container" --platform linux/arm64 --network host --health-start-period 300s \
    -e DAYU_HOST=127.0.0.1 -e DAYU_PORT="$port" -e DAYU_TOKEN="$token" -e DAYU_NODE=cloud "$image" >/dev/null
  local deadline=$((t0 + timeout_s)) body="" health=""
  while [ "$(date +%s)" -lt "$deadline" ]; do
    state="$(docker inspect --format '{{.State.Status}}' "$container")"
    [ "$state" = running ] || {
      docker logs --tail 40 "$container" >&2 || true
      die "$container is $state"
    }
    if [ -z "$body" ]; then
      body="$(curl -fsS --max-time 5 "http://127.0.0.1:$port/health" 2>/dev/null || true)"
      [ -n "$body" ] && echo "/health answered after $(($(date +%s) - t0)) s: $body" >>"$report"
    fi
    health="$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$container")"
    [ "$health" = unhealthy ] && die "$container is unhealthy: $(docker inspect --format '{{json .State.Health}}' "$container")"
    if [ -n "$body" ] && [ "$health" = healthy ]; then
      break
    fi
    sleep 2
  done
  [ -n "$body" ] && [ "$health" = healthy ] || {
    docker logs --tail 40 "$container" >&2 || true
    die "$container: no healthy /health within $timeout_s s (health: ${health:-none})"
  }
  echo "$body" | grep -q '"status":"ok"' || die "/health did not say ok: $body"
  {
    echo "Docker health: healthy after $(($(date +%s) - t0)) s"
    echo "image: $(docker image inspect --format '{{.Os}}/{{.Architecture}} {{.Size}} bytes' "$image")"
    echo "uname -m in the container: $(docker exec "$container" uname -m)"
    echo "python in the container: $(docker exec "$container" python -c 'import platform, sys; print(sys.version.split()[0], platform.machine())')"
    echo "uid in the container: $(docker exec "$container" id -u)"
  } >>"$report"
  [ "$(docker exec "$container" uname -m)" = aarch64 ] || die "the container does not run aarch64 code"
}

main() {
  [ "$(id -u)" = 0 ] || die "run as root (binfmt, dockerd, debootstrap)"
  trap cleanup EXIT
  install_packages docker.io debootstrap qemu-user-static curl
  mkdir -p "$cache"
  : >"$report"
  echo "machine: $(uname -m), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start" >>"$report"
  # First: the project's environment (its Python writes the arm64 image archive; its pip fills the wheelhouse).
  bash hack/setup.sh
  register_qemu
  start_engine
  local t0
  t0=$(date +%s)
  make_base "$arch" "$base_tag"
  echo "arm64 base image (debootstrap foreign + second stage under QEMU, or cached): $(($(date +%s) - t0)) s" >>"$report"
  [ -f "$cache/debootstrap-$arch.time" ] && cat "$cache/debootstrap-$arch.time" >>"$report"
  t0=$(date +%s)
  make_wheelhouse "$arch"
  echo "arm64 wheelhouse: $(($(date +%s) - t0)) s, $(du -sh "hack/docker/wheelhouse/linux-$arch" | cut -f1)" >>"$report"
  build_image
  run_image
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$report"
  cat "$report"
}

main "$@"
