#!/usr/bin/env bash
# Install the Debian packages some features need beyond the Python environment:
#   RTSP playback in the datasource: GStreamer's RTSP server and its Python bindings (system Python).
# Idempotent and quiet when everything is present; a machine without apt or root keeps going without
# them (the features say clearly what is missing, and their tests skip with that reason).
set -uo pipefail

packages=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)

have_rtsp() {
  [ -x /usr/bin/python3 ] && /usr/bin/python3 - <<'PY' >/dev/null 2>&1
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer  # noqa: F401
Gst.init(None)
PY
}

if have_rtsp; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
  echo "system-deps: apt-get or root not available; RTSP playback stays unavailable" >&2
  exit 0
fi
echo "system-deps: installing ${packages[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
timeout 600 apt-get update -qq >/dev/null 2>&1 || echo "system-deps: apt-get update failed" >&2
timeout 900 apt-get install -y -qq "${packages[@]}" >/dev/null 2>&1 \
  || echo "system-deps: could not install ${packages[*]}; RTSP playback stays unavailable" >&2
exit 0
