"""``python -m datasource``: the datasource service on settings.host/settings.port."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from common.config import load_component_config
from common.entrypoint import run_component
from datasource.app import create_app
from datasource.config import DatasourceConfig, DatasourceSettings


def check_config(settings: DatasourceSettings) -> None:
    """The config file is read again at start; a bad one is named here."""
    if settings.config:
        load_component_config(settings.config, DatasourceConfig)


def serve(app: FastAPI, settings: DatasourceSettings) -> None:
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower())


def main() -> None:
    run_component("datasource", DatasourceSettings.from_env, create_app, serve, check=check_config)


if __name__ == "__main__":
    main()
