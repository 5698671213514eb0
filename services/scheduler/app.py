"""The scheduler app: per-source policy agents answering plans, fed by task feedback and resource reports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from common.config import load_component_config
from common.service import create_service
from common.topology import Topology
from services.scheduler.config import SchedulerConfig
from services.scheduler.core import Scheduler, validate_hooks
from services.scheduler.routes import router
from services.scheduler.settings import SchedulerSettings


def create_app(
    settings: SchedulerSettings | None = None,
    config: SchedulerConfig | None = None,
    *,
    topology: Topology | None = None,
) -> FastAPI:
    """Build the app; an unknown hook alias in the config raises here, listing the known ones.

    ``topology`` defaults to the one named by DAYU_TOPOLOGY.
    """
    settings = settings or SchedulerSettings()
    config = config or load_component_config(settings.config, SchedulerConfig)
    validate_hooks(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.scheduler = Scheduler(config, app.state.topology, app.state.metrics)
        yield

    return create_service("scheduler", settings, routers=[router], lifespan=lifespan, topology=topology)
