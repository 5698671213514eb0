"""``python -m services.monitor``: serve the monitor on DAYU_HOST:DAYU_PORT."""

from __future__ import annotations

from common.entrypoint import one_line_errors
from common.listen import serve
from common.service import load_topology
from services.monitor.app import create_app
from services.monitor.settings import MonitorSettings


def main() -> None:
    with one_line_errors("monitor"):
        settings = MonitorSettings.from_env()
        load_topology(settings)  # a bad topology is named now, not as a traceback at startup
        app = create_app(settings)
    serve(app, settings)


if __name__ == "__main__":
    main()
