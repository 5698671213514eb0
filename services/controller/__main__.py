"""``python -m services.controller``: serve the node's controller on ``DAYU_HOST``:``DAYU_PORT``."""

from __future__ import annotations

from common.entrypoint import serve_service
from services.controller.app import create_app
from services.controller.config import ControllerSettings


def main() -> None:
    serve_service("controller", ControllerSettings.from_env, create_app)


if __name__ == "__main__":
    main()
