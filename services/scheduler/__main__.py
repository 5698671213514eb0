"""``python -m services.scheduler``: serve the scheduler on DAYU_HOST:DAYU_PORT."""

from __future__ import annotations

from common.service import serve
from services.scheduler.app import create_app
from services.scheduler.settings import SchedulerSettings


def main() -> None:
    settings = SchedulerSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
