"""Plans for the generator: ask the scheduler in the background, keep the last plan when it is slow or down."""

from __future__ import annotations

import asyncio
import logging
import time

from common.dag import DagSpec, ServiceType, build_dag
from common.errors import DayuError
from common.plan import Plan, PlanRequest, PlanResponse
from common.task import END, START, RawMeta, Stage
from common.topology import Topology
from common.transport import ServiceClient

log = logging.getLogger(__name__)


def place_stages(dag: dict[str, Stage], offload: dict[str, str], *, source_node: str, cloud: str) -> dict[str, Stage]:
    """A copy of ``dag`` with every stage's node set: the plan's choice, else the cloud."""
    placed = {name: stage.model_copy(deep=True) for name, stage in dag.items()}
    for name, stage in placed.items():
        if name == START:
            stage.node = source_node
        elif name == END:
            stage.node = cloud
        else:
            stage.node = offload.get(name) or cloud
    return placed


class Planner:
    """Holds the current plan; :meth:`maybe_refresh` starts at most one request to the scheduler at a time."""

    def __init__(
        self,
        *,
        source_id: str,
        source_node: str,
        spec: DagSpec,
        catalog: dict[str, ServiceType],
        candidates: dict[str, list[str]],
        startup: Plan,
        interval: float,
        timeout: float,
        client: ServiceClient,
        topology: Topology | None,
    ) -> None:
        self.source_id = source_id
        self.source_node = source_node
        self.template = build_dag(spec, catalog)
        self.candidates = candidates
        self.plan = startup
        self.deployment: dict[str, list[str]] = {}
        self.deployment_version = 0
        self.interval = interval
        self.timeout = timeout
        self._client = client
        self._topology = topology
        self._last_source_time: float | None = None
        self._updated = time.monotonic()
        self._inflight: asyncio.Task[None] | None = None
        self.received = 0
        self.failures = 0
        self.last_error: str | None = None

    @property
    def cloud(self) -> str:
        return self._topology.cloud() if self._topology is not None else "cloud"

    def dag(self) -> dict[str, Stage]:
        return place_stages(self.template, self.plan.offload, source_node=self.source_node, cloud=self.cloud)

    def age(self) -> float:
        return time.monotonic() - self._updated

    def due(self, source_time: float) -> bool:
        return self._last_source_time is None or source_time - self._last_source_time >= self.interval

    async def first_plan(self, raw_meta: RawMeta) -> bool:
        """Ask once before the first task; True when the scheduler answered in time.

        The first tasks then follow the policy rather than the startup plan; a scheduler that is down or
        slow delays the first task by twice ``timeout`` at most, after which the startup plan stands.
        """
        if self._topology is None:
            return False
        self._last_source_time = 0.0
        received = self.received
        try:
            # The client's timeout bounds each phase of the call; this bounds the whole of it.
            await asyncio.wait_for(self._ask(0.0, raw_meta), self.timeout * 2)
        except TimeoutError:
            self.failures += 1
            self.last_error = f"no plan within {self.timeout * 2:g}s"
        return self.received > received

    def maybe_refresh(self, source_time: float, raw_meta: RawMeta) -> None:
        if self._topology is None or not self.due(source_time):
            return
        if self._inflight is not None and not self._inflight.done():
            return  # the scheduler is still thinking: keep going with the plan we have
        self._last_source_time = source_time
        self._inflight = asyncio.create_task(self._ask(source_time, raw_meta))

    async def _ask(self, source_time: float, raw_meta: RawMeta) -> None:
        assert self._topology is not None
        request = PlanRequest(
            source_id=self.source_id,
            source_node=self.source_node,
            raw_meta=raw_meta,
            dag=self.dag(),
            candidates=self.candidates,
            edge_nodes=self._topology.edges(),
            source_time=source_time,
        )
        try:
            url = self._topology.component_url("scheduler") + "/plan"
            response = await self._client.post_model(
                url, request, PlanResponse, timeout=self.timeout, retries=0, idempotent=True
            )
        except DayuError as exc:
            self.failures += 1
            self.last_error = str(exc)[:300]
            log.info("keeping the last plan: %s", self.last_error)
            return
        self.plan = response.plan
        self.deployment = response.deployment
        self.deployment_version = response.deployment_version
        self.received += 1
        self._updated = time.monotonic()

    async def aclose(self) -> None:
        if self._inflight is not None and not self._inflight.done():
            self._inflight.cancel()
            await asyncio.gather(self._inflight, return_exceptions=True)
