"""``python -m services.controller``: serve the node's controller on ``DAYU_HOST``:``DAYU_PORT``."""

from __future__ import annotations

from common.service import serve
from services.controller.app import create_app
from services.controller.config import ControllerSettings


def main() -> None:
    settings = ControllerSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
