"""``python -m services.scheduler``: serve the scheduler on DAYU_HOST:DAYU_PORT."""

from __future__ import annotations

import uvicorn

from services.scheduler.app import create_app
from services.scheduler.settings import SchedulerSettings


def main() -> None:
    settings = SchedulerSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level.lower())


if __name__ == "__main__":
    main()
