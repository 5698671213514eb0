"""The control plane's state for one backend process: template, store, deployer, installer, caches."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from typing import Annotated

from fastapi import Depends, Request

from backend.bench_results import BenchResultsFile
from backend.contracts.views import ResultView, SystemSnapshot
from backend.deploy.base import Deployer
from backend.install import Installer
from backend.settings import BackendSettings
from backend.snapshot_ring import SnapshotRing
from backend.store import Store
from backend.templates import Template
from backend.views import system_view
from common.contracts.scheduler import ResourceSnapshot, SchedulerStats
from common.errors import Conflict, DayuError, Unavailable
from common.periodic import Failures, every
from common.transport import ServiceClient

log = logging.getLogger(__name__)
RECENT_PER_SOURCE = 256


def stored_snapshots(store: Store, keep: int) -> list[SystemSnapshot]:
    """The system history a previous process kept; a snapshot of an older shape is skipped."""
    out = []
    for raw in store.snapshots(keep):
        try:
            out.append(SystemSnapshot.model_validate(raw))
        except ValueError:
            continue
    return out


class ControlPlane:
    def __init__(
        self,
        settings: BackendSettings,
        template: Template,
        store: Store,
        deployer: Deployer,
        client: ServiceClient,
    ) -> None:
        self.settings = settings
        self.template = template
        self.store = store
        self.deployer = deployer
        self.client = client
        self.installer = Installer(
            template,
            store,
            deployer,
            client,
            token=settings.component_token or settings.token,
            datasource_url=settings.datasource_url,
        )
        self.recent: dict[str, collections.OrderedDict[int, ResultView]] = {}
        keep = template.base.log_retention.max_system_snapshots
        # System history outlives the process: it is kept in the store and read back here.
        self.snapshots = SnapshotRing(keep, stored_snapshots(store, keep))
        self.bench_results = BenchResultsFile()
        self._sampler: asyncio.Task[None] | None = None

    def component_url(self, component: str, node: str | None = None) -> str:
        if not self.installer.deployed():
            # Wrong for the present state, not a server fault: 409 (the caller installs first).
            raise Conflict("nothing is installed: install first", detail={"phase": self.installer.state().phase})
        topology = self.deployer.topology()
        if topology is None:
            raise Unavailable("the runtime reports no topology")
        return topology.component_url(component, node)

    def remember(self, source_id: str, view: ResultView) -> None:
        seq = view.seq
        if seq is None:
            return
        recent = self.recent.setdefault(source_id, collections.OrderedDict())
        recent[seq] = view
        while len(recent) > RECENT_PER_SOURCE:
            recent.popitem(last=False)

    async def sample_system(self) -> SystemSnapshot:
        scheduler = self.component_url("scheduler")
        resources = await self.client.get_model(f"{scheduler}/resources", ResourceSnapshot, timeout=5.0, retries=0)
        stats = await self.client.get_model(f"{scheduler}/stats", SchedulerStats, timeout=5.0, retries=0)
        snapshot = system_view(resources, stats, time.time())
        self.snapshots.append(snapshot)
        await asyncio.to_thread(self.store.add_snapshot, snapshot.model_dump(mode="json"), self.snapshots.keep)
        return snapshot

    def start(self) -> None:
        # An install or uninstall the previous process was running is finished (or reported) first.
        self.installer.recover_after_restart()
        self.installer.start_health_loop(self.settings.health_interval_s)
        self._sampler = asyncio.create_task(self._sample_loop())
        self.installer.start_redeploy_loop(self.template.base.install.redeploy_interval_s)

    async def _sample_loop(self) -> None:
        await every(
            self.settings.system_interval_s,
            self.sample_system,
            what="system sample",
            log=log,
            skip=lambda: not self.installer.deployed(),
            failures=Failures(errors=(DayuError,), level=logging.DEBUG),
        )

    async def close(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
        await self.installer.close()
        await self.deployer.close()
        self.store.close()


def get_plane(request: Request) -> ControlPlane:
    plane: ControlPlane = request.app.state.plane
    return plane


Plane = Annotated[ControlPlane, Depends(get_plane)]
"""Route parameter type giving the app's control plane."""
