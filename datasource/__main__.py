"""``python -m datasource``: the datasource service on settings.host/settings.port."""

from __future__ import annotations

import uvicorn

from datasource.app import create_app
from datasource.config import DatasourceSettings


def main() -> None:
    settings = DatasourceSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level.lower())


if __name__ == "__main__":
    main()
