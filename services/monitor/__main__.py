"""``python -m services.monitor``: serve the monitor on DAYU_HOST:DAYU_PORT."""

from __future__ import annotations

from common.entrypoint import serve_service
from services.monitor.app import create_app
from services.monitor.settings import MonitorSettings


def main() -> None:
    serve_service("monitor", MonitorSettings.from_env, create_app)


if __name__ == "__main__":
    main()
