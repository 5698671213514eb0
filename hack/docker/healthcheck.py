"""Container healthcheck: exit 0 when the component's ``/health`` on this container answers ``status: ok``.

Runs with nothing but the standard library, so every image (CPU, GPU, Jetson) can use it as its
``HEALTHCHECK``. The port comes from ``DAYU_PORT`` like the component's own settings.

Docker starts it every few seconds in every container, so it speaks HTTP/1.0 over a plain socket: importing
``urllib.request`` (http.client, email, ssl) would triple the CPU time of each check, and on a busy host its
wall time too.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time

TIMEOUT_S = 3.0
MAX_REPLY = 64 * 1024


def fetch(host: str, port: int, path: str) -> tuple[int, bytes]:
    """Status code and body of ``GET path``; OSError on a connection problem or a reply that is not HTTP."""
    deadline = time.monotonic() + TIMEOUT_S
    with socket.create_connection((host, port), timeout=TIMEOUT_S) as conn:
        conn.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        while len(reply) <= MAX_REPLY:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no whole reply within {TIMEOUT_S} s")
            conn.settimeout(left)
            chunk = conn.recv(16 * 1024)
            if not chunk:
                break
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or not status[0].startswith(b"HTTP/") or not status[1].isdigit():
        raise OSError(f"not an HTTP reply: {head[:80]!r}")
    return int(status[1]), body


def check(port: str, host: str = "127.0.0.1") -> str | None:
    """None when healthy, else why not."""
    url = f"http://{host}:{port}/health"
    try:
        code, body = fetch(host, int(port), "/health")
    except OSError as exc:
        return f"{url}: {exc}"
    if code != 200:
        return f"{url}: answered {code}"
    try:
        answer = json.loads(body or b"{}")
    except ValueError as exc:
        return f"{url}: {exc}"
    status = answer.get("status") if isinstance(answer, dict) else None
    if status != "ok":
        return f"{url}: status is {status!r}, not 'ok'"
    return None


def main() -> int:
    port = os.environ.get("DAYU_PORT", "8000")
    if not port.isdigit():
        print(f"healthcheck: DAYU_PORT={port!r} is not a port number", file=sys.stderr)
        return 1
    problem = check(port)
    if problem is not None:
        print(f"healthcheck: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
