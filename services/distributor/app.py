"""The distributor app: durable results and drop records, joins at _end, feedback to the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from common.config import load_component_config
from common.errors import DayuError
from common.join import JoinStore
from common.periodic import LOGGED_WITH_TRACEBACK, every
from common.service import create_service
from services.distributor.config import DistributorConfig
from services.distributor.feedback import FeedbackSender
from services.distributor.recorder import Recorder
from services.distributor.routes import router
from services.distributor.segments import SegmentFiles
from services.distributor.settings import DistributorSettings
from services.distributor.store import ResultStore

log = logging.getLogger(__name__)


def _scheduler_feedback_url(app: FastAPI, config: DistributorConfig) -> str | None:
    if not config.feedback:
        return None
    if config.scheduler_url:
        return config.scheduler_url.rstrip("/") + "/feedback"
    topology = app.state.topology
    if topology is None:
        return None
    try:
        return str(topology.component_url("scheduler")) + "/feedback"
    except DayuError:
        log.warning("no scheduler in the topology: feedback is off")
        return None


def create_app(settings: DistributorSettings | None = None, config: DistributorConfig | None = None) -> FastAPI:
    settings = settings or DistributorSettings()
    config = config or load_component_config(settings.config, DistributorConfig)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        work_dir = Path(settings.work_dir)
        default_name = f"results-{config.run_id}.sqlite3" if config.run_id else "results.sqlite3"
        database = Path(config.database) if config.database else work_dir / default_name
        store = ResultStore(database, max_records=config.max_records)
        feedback = FeedbackSender(
            app.state.client,
            _scheduler_feedback_url(app, config),
            capacity=config.feedback_queue,
            retries=config.feedback_retries,
            timeout=config.feedback_timeout,
            metrics=app.state.metrics,
        )
        joins = JoinStore(timeout=config.join_timeout, capacity=config.join_capacity)
        app.state.store = store
        app.state.segments = SegmentFiles(
            work_dir / "segments", keep=config.max_segments, max_bytes=config.max_payload_bytes
        )
        app.state.recorder = recorder = Recorder(store, joins, feedback, app.state.metrics, settings.node)
        feedback.start()
        sweeper = asyncio.create_task(
            every(
                min(1.0, config.join_timeout / 4),
                recorder.expire_joins,
                what="join expiry",
                log=log,
                failures=LOGGED_WITH_TRACEBACK,
            )
        )
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await recorder.abandon_joins(f"distributor on {settings.node!r} stopped before the join completed")
            await feedback.stop()
            store.close()

    app = create_service("distributor", settings, routers=[router], lifespan=lifespan)
    app.state.config = config
    return app
