#!/usr/bin/env bash
# Install the Debian packages some features need beyond the Python environment:
#   RTSP playback in the datasource: GStreamer's RTSP server and its Python bindings (system Python);
#   the dashboard's browser tests: Debian's chromium (driven headless by playwright-core; no browser download);
#   the network-namespace link mode and the link-cut fault test (as root): iproute2 (`ip netns`, `tc`).
# Idempotent and quiet when everything is present; a machine without apt or root keeps going without
# them (the features say clearly what is missing, and their tests skip with that reason).
set -uo pipefail

rtsp_packages=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)
browser_packages=(chromium)
netns_packages=(iproute2)

have_rtsp() {
  [ -x /usr/bin/python3 ] && /usr/bin/python3 - <<'PY' >/dev/null 2>&1
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer  # noqa: F401
Gst.init(None)
PY
}

have_browser() {
  [ -x /usr/bin/chromium ]
}

have_iproute2() {
  command -v ip >/dev/null 2>&1 && command -v tc >/dev/null 2>&1
}

missing=()
have_rtsp || missing+=("${rtsp_packages[@]}")
have_browser || missing+=("${browser_packages[@]}")
have_iproute2 || missing+=("${netns_packages[@]}")
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
  echo "system-deps: apt-get or root not available; not installed: ${missing[*]}" >&2
  exit 0
fi
echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
timeout 600 apt-get update -qq >/dev/null 2>&1 || echo "system-deps: apt-get update failed" >&2
timeout 900 apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null 2>&1 \
  || echo "system-deps: could not install ${missing[*]}; RTSP playback, the browser tests or the netns link mode stay unavailable" >&2
exit 0
