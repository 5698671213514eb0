"""``python -m backend``: the control plane API on settings.host:settings.port."""

from __future__ import annotations

import uvicorn

from backend.app import create_app
from backend.settings import BackendSettings
from common.entrypoint import one_line_errors
from common.memory import give_back_freed_blocks


def main() -> None:
    give_back_freed_blocks()  # frames it renders and segments it reads: not kept in the heap once freed
    with one_line_errors("backend"):
        settings = BackendSettings.from_env()
        app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
