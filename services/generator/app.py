"""The generator app: opens and closes its source on request (``/source/open``, ``/source/close``), or at once
when ``autostart`` is set, and reports it on ``GET /status``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request

from common.config import load_component_config
from common.contracts.generator import GeneratorStatus, SourceChanged, SourceOpen
from common.errors import DayuError
from common.service import create_service
from services.generator.config import GeneratorConfig, GeneratorSettings
from services.generator.pipeline import Generator

log = logging.getLogger(__name__)
router = APIRouter()
SHUTDOWN_TIMEOUT_S = 5.0
"""How long stopping the app waits for the reader and the segments in flight."""


def _generator(request: Request) -> Generator:
    generator: Generator = request.app.state.generator
    return generator


@router.get("/status")
async def status(request: Request) -> GeneratorStatus:
    return _generator(request).status()


@router.post("/source/open", summary="Open the source and start reading (harmless when already open)")
async def open_source(request: Request, body: SourceOpen | None = None) -> SourceChanged:
    generator = _generator(request)
    opened = await generator.open(body.params if body else None)
    return SourceChanged(changed=opened, **dict(generator.status()))


@router.post("/source/close", summary="Stop reading; the segments already made still become tasks")
async def close_source(request: Request) -> SourceChanged:
    generator = _generator(request)
    closed = await generator.close()
    return SourceChanged(changed=closed, **dict(generator.status()))


async def _autostart(generator: Generator, params: dict[str, Any] | None = None) -> None:
    try:
        await generator.open(params)
    except DayuError as exc:  # reported by GET /status (state "failed"), like a source failing later
        log.error("could not start reading: %s", exc.message)


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
            metrics=app.state.metrics,
        )
        if config.autostart:
            generator.make_source()  # a bad source config stops the start here, not silently later
        app.state.generator = generator
        generator.start()
        # Open at start when configured so, or again after a crash interrupted an opening (the marker).
        interrupted = generator.open_marker.read()
        starter = None
        if config.autostart or interrupted is not None:
            if interrupted is not None:
                log.warning("the source was open when this generator stopped unexpectedly: opening it again")
            starter = asyncio.create_task(_autostart(generator, interrupted))
        try:
            yield
        finally:
            if starter is not None:
                starter.cancel()
                await asyncio.gather(starter, return_exceptions=True)
            await generator.shutdown(SHUTDOWN_TIMEOUT_S)

    def health(app: FastAPI) -> dict[str, Any]:
        generator: Generator | None = getattr(app.state, "generator", None)
        return {} if generator is None else {"state": generator.stats.state, "open": generator.reading}

    return create_service("generator", settings, routers=[router], lifespan=lifespan, health=health)
