"""``python -m backend``: the control plane API on settings.host:settings.port."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from backend.app import create_app
from backend.settings import BackendSettings
from common.entrypoint import run_component
from common.memory import give_back_freed_blocks


def serve(app: FastAPI, settings: BackendSettings) -> None:
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


def main() -> None:
    # frames it renders and segments it reads: not kept in the heap once freed
    run_component("backend", BackendSettings.from_env, create_app, serve, prepare=give_back_freed_blocks)


if __name__ == "__main__":
    main()
