"""The compose deployer: the components run as the containers of ``docker-compose.yml``, started by Docker
Compose, not by the backend. Installing maps each workload onto the container the compose topology lists
for it (refused, naming what the stack runs, when there is none) and waits for its ``/health``; uninstall
forgets them (the containers keep running, idle: generators closed). The topology is the one every
container reads (``DAYU_TOPOLOGY``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import httpx

from backend.deploy.base import Deployer, InstanceStatus
from common.errors import ConfigError
from common.topology import Endpoint, NodeSpec, StaticTopology, Topology
from common.workload import Workload

HEALTH_TIMEOUT_S = 2.0


class ComposeDeployer(Deployer):
    kind = "compose"

    def __init__(self, topology: StaticTopology) -> None:
        self._topology = topology
        self._deployed: dict[str, tuple[Workload, Endpoint]] = {}
        self._since: dict[str, float] = {}

    def nodes(self) -> dict[str, NodeSpec]:
        return {
            name: NodeSpec(role=spec.role, arch=spec.arch, labels=spec.labels)
            for name, spec in self._topology.nodes().items()
        }

    def _endpoint(self, w: Workload) -> Endpoint:
        nodes = self._topology.nodes()
        spec = nodes.get(w.node)
        found = None
        if spec is not None:
            table = spec.processors if w.component == "processor" else spec.components
            found = table.get(w.topology_key())
        if found is None:
            runs = {
                node: sorted([*s.components, *(f"processor {p}" for p in s.processors)]) for node, s in nodes.items()
            }
            raise ConfigError(
                f"the compose stack runs no {w.topology_key()} on node {w.node!r}: its components are fixed by "
                "docker-compose.yml; install what it runs (the default DAG on the default datasource) or add "
                f"the container; it runs {runs}",
                detail={"workload": w.name, "runs": runs},
            )
        return found

    async def apply(self, workloads: Sequence[Workload]) -> None:
        placed = [(w, self._endpoint(w)) for w in workloads]  # all or nothing
        for w, endpoint in placed:
            self._deployed[w.name] = (w, endpoint)
            self._since.setdefault(w.name, time.time())

    async def remove(self, names: Sequence[str]) -> None:
        for name in names:
            self._deployed.pop(name, None)
            self._since.pop(name, None)

    async def remove_all(self) -> None:
        self._deployed.clear()
        self._since.clear()

    async def status(self) -> list[InstanceStatus]:
        async with httpx.AsyncClient(timeout=HEALTH_TIMEOUT_S, trust_env=False) as client:
            return list(await asyncio.gather(*(self._one(client, w, e) for w, e in self._deployed.values())))

    async def _one(self, client: httpx.AsyncClient, w: Workload, endpoint: Endpoint) -> InstanceStatus:
        try:
            response = await client.get(f"{endpoint.url}/health")
            ready, message = response.status_code == 200, f"/health answered {response.status_code}"
        except httpx.HTTPError as exc:
            ready, message = False, f"{endpoint.url} unreachable: {exc!r}"
        return InstanceStatus(
            name=w.name,
            component=w.component,
            node=w.node,
            service=w.service,
            source_id=w.source_id,
            ready=ready,
            phase="running" if ready else "starting",
            started_at=self._since.get(w.name),
            message="" if ready else message,
        )

    def topology(self) -> Topology | None:
        return self._topology
