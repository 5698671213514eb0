"""The monitor app: samples the node on its own clock and reports to the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from common.config import load_component_config
from common.errors import DayuError
from common.registry import REGISTRY
from common.service import create_service
from common.topology import Topology
from services.monitor.config import MonitorConfig
from services.monitor.probe import FAMILY, Probe, ProbeContext
from services.monitor.reporter import Reporter
from services.monitor.routes import router
from services.monitor.settings import MonitorSettings

log = logging.getLogger(__name__)


def _component_url(topology: Topology | None, component: str, node: str | None = None) -> str | None:
    if topology is None:
        return None
    try:
        return topology.component_url(component, node)
    except DayuError:
        return None


def create_app(
    settings: MonitorSettings | None = None, config: MonitorConfig | None = None, *, topology: Topology | None = None
) -> FastAPI:
    """Build the app; unknown probe aliases or bad probe params raise here. ``topology``: default DAYU_TOPOLOGY."""
    settings = settings or MonitorSettings()
    config = config or load_component_config(settings.config, MonitorConfig)
    for choice in config.probes:
        REGISTRY.make_config(FAMILY, choice.alias, choice.params)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        topo: Topology | None = app.state.topology
        cloud = topo.cloud() if topo is not None else None
        scheduler = config.scheduler_url or _component_url(topo, "scheduler")
        context = ProbeContext(
            node=settings.node,
            client=app.state.client,
            topology=topo,
            cloud_node=cloud,
            cloud_monitor_url=config.cloud_monitor_url or _component_url(topo, "monitor", cloud),
        )
        probes: list[Probe] = [REGISTRY.create(FAMILY, c.alias, c.params) for c in config.probes]
        reporter = Reporter(
            probes,
            context,
            scheduler_url=scheduler.rstrip("/") + "/resources" if scheduler else None,
            probe_timeout=config.probe_timeout,
            report_timeout=config.report_timeout,
            report_retries=config.report_retries,
            metrics=app.state.metrics,
        )
        app.state.reporter = reporter
        app.state.probe_lock = asyncio.Lock()
        clock = asyncio.create_task(reporter.run(config.interval), name="monitor-reports")
        try:
            yield
        finally:
            clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await clock
            reporter.close()

    app = create_service("monitor", settings, routers=[router], lifespan=lifespan, topology=topology)
    app.state.config = config
    return app
