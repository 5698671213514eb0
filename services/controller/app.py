"""The controller app: one per node; routes tasks between generators, processors, nodes and the distributor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from common.config import load_component_config
from common.errors import DayuError
from common.outbox import SPOOL_DIR, Outbox
from common.periodic import LOGGED_WITH_TRACEBACK, every
from common.service import create_service
from common.topology import Topology
from services.controller.cleanup import remove_old_files
from services.controller.config import ControllerConfig, ControllerSettings
from services.controller.dispatcher import Dispatcher
from services.controller.journal import InflightJournal
from services.controller.routes import router

log = logging.getLogger(__name__)


def create_app(settings: ControllerSettings | None = None, config: ControllerConfig | None = None) -> FastAPI:
    settings = settings or ControllerSettings()
    config = config or load_component_config(settings.config, ControllerConfig)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        topology: Topology | None = app.state.topology

        def distributor_url() -> str:
            if topology is None:
                raise DayuError("no topology: cannot find the distributor")
            return topology.component_url("distributor")

        outbox = Outbox(
            settings.work_dir / SPOOL_DIR / "controller.jsonl",
            client=app.state.client,
            distributor_url=distributor_url,
            config=config.outbox,
            metrics=app.state.metrics,
        )
        outbox.open()
        journal = InflightJournal(settings.work_dir / SPOOL_DIR / "controller-inflight")
        dispatcher = Dispatcher(
            config,
            node=settings.node,
            work_dir=settings.work_dir,
            client=app.state.client,
            topology=app.state.topology,
            metrics=app.state.metrics,
            outbox=outbox,
            journal=journal,
        )
        app.state.dispatcher = dispatcher
        recovered = await dispatcher.recover()
        if recovered:
            log.warning("%d task(s) the previous process had in flight recorded as dropped", recovered)
        sweep = min(1.0, config.join_timeout_s / 4)
        loops = [
            asyncio.create_task(
                every(sweep, dispatcher.expire_joins, what="join expiry", log=log, failures=LOGGED_WITH_TRACEBACK)
            ),
            asyncio.create_task(
                every(
                    config.cleanup_interval_s,
                    lambda: asyncio.to_thread(remove_old_files, settings.work_dir, config.segment_ttl_s),
                    what="segment cleanup",
                    log=log,
                    failures=LOGGED_WITH_TRACEBACK,
                )
            ),
        ]
        try:
            yield
        finally:
            for loop in loops:
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await dispatcher.drain(timeout=5.0)
            await dispatcher.abandon_joins()
            journal.close()
            await outbox.close()  # after the last drop records: what the distributor did not take stays spooled

    def health(app: FastAPI) -> dict[str, Any]:
        dispatcher: Dispatcher | None = getattr(app.state, "dispatcher", None)
        return {} if dispatcher is None else {"in_flight": dispatcher.in_flight}

    return create_service("controller", settings, routers=[router], lifespan=lifespan, health=health)
