"""RTSP mode: one system-Python GStreamer RTSP server process per source (see rtsp_server.py).

Where the system packages are missing, opening an RTSP source fails with a 503 that names them,
and the service keeps serving everything else.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from common.errors import Unavailable

PACKAGES = "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"
SERVER = Path(__file__).with_name("rtsp_server.py")
CHECK = (
    "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0');"
    "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
    "import sys; sys.exit(0 if all(Gst.ElementFactory.find(e) for e in "
    "('splitmuxsrc', 'h264parse', 'rtph264pay')) else 1)"
)


def rtsp_support(python: str) -> tuple[bool, str]:
    """Whether ``python`` can run the RTSP server, and if not, what to install."""
    if not Path(python).exists():
        return False, f"{python} does not exist; install {PACKAGES} (Debian) for RTSP mode"
    try:
        done = subprocess.run([python, "-c", CHECK], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"cannot run {python}: {exc}"
    if done.returncode != 0:
        return False, f"GStreamer RTSP support is missing from {python}: apt-get install -y {PACKAGES}"
    return True, ""


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class RtspProcess:
    """A running RTSP server for one source; stopped through its own process group."""

    def __init__(self, python: str, host: str, mount: str, location: str, log_dir: Path, timeout: float = 15.0) -> None:
        self.port = free_port(host)
        self.url = f"rtsp://{host}:{self.port}/{mount}"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"rtsp-{mount}.log"
        command = [
            python,
            str(SERVER),
            "--host",
            host,
            "--port",
            str(self.port),
            "--mount",
            mount,
            "--location",
            location,
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self.log_path.open("ab"), env=env, start_new_session=True, text=True
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline and self.proc.poll() is None:
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if ready:
                line = self.proc.stdout.readline().strip()
                break
        if line != "ready":
            self.stop()
            raise Unavailable(f"the RTSP server did not start: {line or 'no answer'} (log: {self.log_path})")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # the group this process created, nothing else
                self.proc.wait(timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def default_python() -> str:
    return "/usr/bin/python3" if sys.platform.startswith("linux") else "python3"
