"""The processor app: one application (model) behind a bounded queue, for one (service, node)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from common.config import load_component_config
from common.service import create_service
from services.processor.config import ProcessorConfig
from services.processor.engine import Engine
from services.processor.label_route import router as label_router
from services.processor.routes import router
from services.processor.settings import ProcessorSettings


def create_app(settings: ProcessorSettings | None = None, config: ProcessorConfig | None = None) -> FastAPI:
    settings = settings or ProcessorSettings()
    config = config or load_component_config(settings.config, ProcessorConfig)
    threads = settings.default_threads(config.processors_on_node)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        engine = Engine(
            config, threads=threads, work_dir=settings.work_dir, metrics=app.state.metrics, node=settings.node
        )
        await asyncio.to_thread(engine.load)
        engine.start()
        app.state.engine = engine
        try:
            yield
        finally:
            await asyncio.to_thread(engine.stop)

    def health(app: FastAPI) -> dict[str, Any]:
        engine: Engine | None = getattr(app.state, "engine", None)
        if engine is None:
            return {"status": "starting"}
        return {"application": engine.application.alias, "queue": len(engine.queue)}

    app = create_service("processor", settings, routers=[router, label_router], lifespan=lifespan, health=health)
    app.state.service = config.service or settings.service
    return app
