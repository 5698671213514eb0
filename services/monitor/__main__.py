"""``python -m services.monitor``: serve the monitor on DAYU_HOST:DAYU_PORT."""

from __future__ import annotations

from common.service import serve
from services.monitor.app import create_app
from services.monitor.settings import MonitorSettings


def main() -> None:
    settings = MonitorSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
