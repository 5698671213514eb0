"""The generator app: runs one source's loop in the lifespan and reports it on ``GET /status``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request

from common.config import load_component_config
from common.service import create_service
from services.generator.config import GeneratorConfig, GeneratorSettings
from services.generator.pipeline import Generator

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/status")
async def status(request: Request) -> dict[str, Any]:
    generator: Generator = request.app.state.generator
    return generator.status()


def create_app(settings: GeneratorSettings | None = None, config: GeneratorConfig | None = None) -> FastAPI:
    settings = settings or GeneratorSettings()
    config = config or load_component_config(settings.config, GeneratorConfig)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        generator = Generator(
            config,
            node=settings.node,
            work_dir=settings.work_dir,
            client=app.state.client,
            topology=app.state.topology,
        )
        app.state.generator = generator
        runner = asyncio.create_task(generator.run(), name="generator")
        try:
            yield
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            await asyncio.to_thread(generator.close)

    def health(app: FastAPI) -> dict[str, Any]:
        generator: Generator | None = getattr(app.state, "generator", None)
        return {} if generator is None else {"state": generator.stats.state}

    return create_service("generator", settings, routers=[router], lifespan=lifespan, health=health)
