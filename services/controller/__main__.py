"""``python -m services.controller``: serve the node's controller on ``DAYU_HOST``:``DAYU_PORT``."""

from __future__ import annotations

import uvicorn

from services.controller.app import create_app
from services.controller.config import ControllerSettings


def main() -> None:
    settings = ControllerSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
