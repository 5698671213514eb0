"""Container healthcheck: exit 0 when the component's ``/health`` on this container answers ``status: ok``.

Runs with nothing but the standard library, so every image (CPU, GPU, Jetson) can use it as its
``HEALTHCHECK``. The port comes from ``DAYU_PORT`` like the component's own settings.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 3.0


def check(port: str, host: str = "127.0.0.1") -> str | None:
    """None when healthy, else why not."""
    url = f"http://{host}:{port}/health"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            body = json.loads(response.read(64 * 1024) or b"{}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"{url}: {exc}"
    status = body.get("status") if isinstance(body, dict) else None
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
