"""``python -m services.scheduler``: serve the scheduler on DAYU_HOST:DAYU_PORT."""

from __future__ import annotations

from common.entrypoint import serve_service
from services.scheduler.app import create_app
from services.scheduler.settings import SchedulerSettings


def main() -> None:
    serve_service("scheduler", SchedulerSettings.from_env, create_app)


if __name__ == "__main__":
    main()
