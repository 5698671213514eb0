#!/usr/bin/env bash
# Build Dayu's container images with docker buildx, one `docker buildx build` per image of hack/images.list.
#
#   bash hack/build.sh build a,b     # the named images (make build WHAT=a,b)
#   bash hack/build.sh all           # every image (make all)
#   bash hack/build.sh list          # the image names
#
# Environment:
#   REG, REPO, TAG    reference REG/REPO/<name>:TAG (defaults docker.io, dayuhub, the version in pyproject.toml)
#   OUTPUT            push (default: multi-platform images to the registry) | load (into the local docker,
#                     for the host's platform only, since the docker image store holds one platform per tag)
#   PLATFORMS         optional comma list narrowing every image's platforms (e.g. linux/amd64)
#   DRY_RUN=1         print the exact commands instead of running them
#   BUILDER           buildx builder name (default dayu-buildx), created when missing from
#   BUILDKITD_CONFIG  buildkitd config (default hack/resource/buildkitd.toml; used when not empty)
#   DRIVER_OPTS_FILE  `key = "value"` lines, each one --driver-opt (default hack/resource/driver_opts.toml)
#   IMAGES_FILE       the image list (default hack/images.list)
#   NPM_CA_FILE       a CA bundle for npm in the dashboard build (a TLS-inspecting proxy), as the build secret npm_ca
# Changing buildkitd.toml or driver_opts.toml takes effect once the builder is removed and re-created:
#   docker buildx rm dayu-buildx
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

IMAGES_FILE="${IMAGES_FILE:-hack/images.list}"
DOCKERFILE="${DOCKERFILE:-hack/docker/Dockerfile}"
BUILDKITD_CONFIG="${BUILDKITD_CONFIG:-hack/resource/buildkitd.toml}"
DRIVER_OPTS_FILE="${DRIVER_OPTS_FILE:-hack/resource/driver_opts.toml}"
BUILDER="${BUILDER:-dayu-buildx}"
OUTPUT="${OUTPUT:-push}"
PLATFORMS="${PLATFORMS:-}"
DRY_RUN="${DRY_RUN:-0}"

die() {
  echo "build: $*" >&2
  exit 1
}

project_version() {
  local version
  version="$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' pyproject.toml | head -n 1)"
  [ -n "$version" ] || die "no version found in pyproject.toml"
  echo "$version"
}

REG="${REG-docker.io}"
REPO="${REPO:-dayuhub}"
TAG="${TAG:-$(project_version)}"

# --- the image list ---------------------------------------------------------------------------------------
declare -a NAMES=()
declare -A TARGET=() VARIANT=() IMAGE_PLATFORMS=() BUILD_ARGS=()

load_images() {
  [ -f "$IMAGES_FILE" ] || die "image list $IMAGES_FILE not found"
  local name target variant platforms args extra lineno=0
  while read -r name target variant platforms args extra || [ -n "$name" ]; do
    lineno=$((lineno + 1))
    case "$name" in "" | \#*) continue ;; esac
    if [ -z "$args" ] || [ -n "$extra" ]; then
      die "$IMAGES_FILE:$lineno: expected 5 columns (name target variant platforms build-args)"
    fi
    [ -z "${TARGET[$name]+x}" ] || die "$IMAGES_FILE:$lineno: image $name is listed twice"
    NAMES+=("$name")
    TARGET[$name]="$target"
    VARIANT[$name]="$variant"
    IMAGE_PLATFORMS[$name]="$platforms"
    BUILD_ARGS[$name]="$args"
  done <"$IMAGES_FILE"
  [ "${#NAMES[@]}" -gt 0 ] || die "$IMAGES_FILE lists no image"
}

valid_names() {
  local IFS=,
  echo "${NAMES[*]}" | sed 's/,/, /g'
}

# --- checks made before anything runs ---------------------------------------------------------------------
check_settings() {
  [[ "$TAG" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "TAG '$TAG' is not a valid image tag"
  [[ "$REPO" =~ ^[a-z0-9]+([._/-][a-z0-9]+)*$ ]] || die "REPO '$REPO' is not a valid repository (lower case, digits, . _ - /)"
  [ -z "$REG" ] || [[ "$REG" =~ ^[A-Za-z0-9.-]+(:[0-9]+)?$ ]] || die "REG '$REG' is not a registry host[:port]"
  [[ "$BUILDER" =~ ^[A-Za-z0-9_.-]+$ ]] || die "BUILDER '$BUILDER' is not a valid builder name (letters, digits, _ . -)"
  case "$OUTPUT" in push | load) ;; *) die "OUTPUT must be push or load, not '$OUTPUT'" ;; esac
  case "$DRY_RUN" in 0 | 1 | "") ;; *) die "DRY_RUN must be 0 or 1, not '$DRY_RUN'" ;; esac
}

host_platform() {
  case "$(uname -m)" in
    x86_64 | amd64) echo linux/amd64 ;;
    aarch64 | arm64) echo linux/arm64 ;;
    *) die "unknown host architecture $(uname -m); set PLATFORMS" ;;
  esac
}

# The platforms one image is built for: its own, narrowed by PLATFORMS; for load, one of them (the host's when
# the image has it). Empty when PLATFORMS leaves none.
platforms_of() {
  local name="$1" p host out=()
  IFS=, read -r -a own <<<"${IMAGE_PLATFORMS[$name]}"
  for p in "${own[@]}"; do
    if [ -z "$PLATFORMS" ] || [[ ",$PLATFORMS," == *",$p,"* ]]; then
      out+=("$p")
    fi
  done
  if [ "$OUTPUT" = load ] && [ "${#out[@]}" -gt 1 ]; then
    host="$(host_platform)"
    if [[ " ${out[*]} " == *" $host "* ]]; then
      out=("$host")
    else
      out=("${out[0]}")
    fi
  fi
  local IFS=,
  echo "${out[*]}"
}

# --- running or printing ----------------------------------------------------------------------------------
# One shell word per argument, quoted only where the shell needs it.
quote() {
  if [[ "$1" =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
    printf '%s' "$1"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

show() {
  local out="" arg
  for arg in "$@"; do
    out+="${out:+ }$(quote "$arg")"
  done
  echo "$out"
}

run() {
  if [ "$DRY_RUN" = 1 ]; then
    show "$@"
  else
    "$@"
  fi
}

# Non-comment, non-blank lines of a config file.
has_content() {
  [ -f "$1" ] && grep -qvE '^[[:space:]]*(#.*)?$' "$1"
}

driver_opts() {
  local line key value
  [ -f "$DRIVER_OPTS_FILE" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
    if [[ "$line" =~ ^[[:space:]]*\"?([A-Za-z0-9_.-]+)\"?[[:space:]]*=[[:space:]]*\"([^\"]*)\"[[:space:]]*(#.*)?$ ]]; then
      key="${BASH_REMATCH[1]}"
      value="${BASH_REMATCH[2]}"
      # buildx reads each --driver-opt as CSV: a value holding a comma must be CSV-quoted as a whole.
      if [[ "$value" == *,* ]]; then
        printf '"%s=%s"\n' "$key" "${value//\"/\"\"}"
      else
        printf '%s=%s\n' "$key" "$value"
      fi
    else
      die "$DRIVER_OPTS_FILE: cannot read line '$line' (expected key = \"value\")"
    fi
  done <"$DRIVER_OPTS_FILE"
}

create_builder_command() {
  local cmd=(docker buildx create --name "$BUILDER" --driver docker-container --bootstrap) opt
  if has_content "$BUILDKITD_CONFIG"; then
    cmd+=(--config "$BUILDKITD_CONFIG")
  fi
  local opts
  opts="$(driver_opts)" || exit 1
  while IFS= read -r opt; do
    if [ -n "$opt" ]; then
      cmd+=(--driver-opt "$opt")
    fi
  done <<<"$opts"
  CREATE_CMD=("${cmd[@]}")
}

ensure_builder() {
  create_builder_command
  if [ "$DRY_RUN" = 1 ]; then
    echo "docker buildx inspect $(quote "$BUILDER") >/dev/null 2>&1 || $(show "${CREATE_CMD[@]}")"
    return
  fi
  if ! docker buildx inspect "$BUILDER" >/dev/null 2>&1; then
    echo "build: creating buildx builder $BUILDER" >&2
    "${CREATE_CMD[@]}"
  fi
}

build_command() {
  local name="$1" arg
  local ref="${REG:+$REG/}$REPO/$name:$TAG"
  local cmd=(docker buildx build --builder "$BUILDER" --file "$DOCKERFILE" --target "${TARGET[$name]}")
  cmd+=(--platform "$(platforms_of "$name")" --build-arg "VARIANT=${VARIANT[$name]}")
  if [ "${BUILD_ARGS[$name]}" != - ]; then
    IFS=, read -r -a extra <<<"${BUILD_ARGS[$name]}"
    for arg in "${extra[@]}"; do
      cmd+=(--build-arg "$arg")
    done
  fi
  if [ -n "${NPM_CA_FILE:-}" ]; then
    cmd+=(--secret "id=npm_ca,src=$NPM_CA_FILE")
  fi
  cmd+=(--tag "$ref" "--$OUTPUT" .)
  BUILD_CMD=("${cmd[@]}")
}

# --- main -------------------------------------------------------------------------------------------------
select_images() {
  local what="$1" name seen=","
  SELECTED=()
  what="${what// /}"
  [ -n "$what" ] || die "WHAT is empty: name the images to build, e.g. make build WHAT=generator,controller (valid names: $(valid_names))"
  IFS=, read -r -a wanted <<<"$what"
  local unknown=()
  for name in "${wanted[@]}"; do
    [ -n "$name" ] || continue
    if [ -z "${TARGET[$name]+x}" ]; then
      unknown+=("$name")
    elif [[ "$seen" != *",$name,"* ]]; then
      SELECTED+=("$name")
      seen+="$name,"
    fi
  done
  if [ "${#unknown[@]}" -gt 0 ]; then
    local IFS=,
    die "unknown image name(s): ${unknown[*]}; valid names: $(valid_names)"
  fi
}

# Drop the images that PLATFORMS leaves without a platform: skipped with a note for `all`, refused when named.
narrow_to_platforms() {
  local mode="$1" name kept=()
  for name in "${SELECTED[@]}"; do
    if [ -n "$(platforms_of "$name")" ]; then
      kept+=("$name")
    elif [ "$mode" = all ]; then
      echo "build: skipping $name (built for ${IMAGE_PLATFORMS[$name]}, PLATFORMS=$PLATFORMS)" >&2
    else
      die "image $name is built for ${IMAGE_PLATFORMS[$name]}, not for PLATFORMS=$PLATFORMS"
    fi
  done
  [ "${#kept[@]}" -gt 0 ] || die "no image is built for PLATFORMS=$PLATFORMS"
  SELECTED=("${kept[@]}")
}

build_images() {
  local name
  check_settings
  narrow_to_platforms "$1"
  if [ "$DRY_RUN" != 1 ]; then
    command -v docker >/dev/null 2>&1 || die "docker is not installed"
    docker buildx version >/dev/null 2>&1 || die "docker buildx is not available (install the buildx plugin)"
  fi
  ensure_builder
  for name in "${SELECTED[@]}"; do
    build_command "$name"
    [ "$DRY_RUN" = 1 ] || echo "build: $name" >&2
    run "${BUILD_CMD[@]}"
  done
}

main() {
  local action="${1:-}"
  load_images
  case "$action" in
    build)
      select_images "${2:-}"
      build_images named
      ;;
    all)
      SELECTED=("${NAMES[@]}")
      build_images all
      ;;
    list)
      printf '%s\n' "${NAMES[@]}"
      ;;
    *)
      die "usage: hack/build.sh build a,b | all | list (valid names: $(valid_names))"
      ;;
  esac
}

main "$@"
