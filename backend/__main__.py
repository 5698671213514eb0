"""``python -m backend``: the control plane API on settings.host:settings.port."""

from __future__ import annotations

import uvicorn

from backend.app import create_app
from backend.settings import BackendSettings


def main() -> None:
    settings = BackendSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
