"""``python -m datasource``: the datasource service on settings.host/settings.port."""

from __future__ import annotations

import uvicorn

from common.config import load_component_config
from common.entrypoint import one_line_errors
from datasource.app import create_app
from datasource.config import DatasourceConfig, DatasourceSettings


def main() -> None:
    with one_line_errors("datasource"):
        settings = DatasourceSettings.from_env()
        if settings.config:  # read again at start; named here when bad
            load_component_config(settings.config, DatasourceConfig)
        app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower())


if __name__ == "__main__":
    main()
