"""``python -m services.monitor``: serve the monitor on DAYU_HOST:DAYU_PORT."""

from __future__ import annotations

import uvicorn

from services.monitor.app import create_app
from services.monitor.settings import MonitorSettings


def main() -> None:
    settings = MonitorSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level.lower())


if __name__ == "__main__":
    main()
