"""The local deployer: every virtual node's workloads as processes of the local runtime (services.local)."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from backend.deploy.base import Deployer, InstanceStatus
from backend.templates import LocalSettings
from common.errors import Unavailable
from common.topology import NodeSpec, StaticTopology, Topology
from common.workload import Workload


class LocalDeployer(Deployer):
    kind = "local"

    def __init__(self, run_dir: Path, local: LocalSettings) -> None:
        self.run_dir = run_dir
        self.local = local
        self._nodes = {
            name: NodeSpec(role=spec.role, arch=spec.arch, labels=spec.labels) for name, spec in local.nodes.items()
        }
        self._runtime: Any = None
        self._workloads: dict[str, Workload] = {}

    def nodes(self) -> dict[str, NodeSpec]:
        return dict(self._nodes)

    def _rt(self) -> Any:
        if self._runtime is None:
            try:
                module = importlib.import_module("services.local")
                self._runtime = module.LocalRuntime(self.run_dir)
            except (ImportError, AttributeError) as exc:
                raise Unavailable(f"the local runtime cannot be loaded: {exc}") from None
        return self._runtime

    async def apply(self, workloads: Sequence[Workload]) -> None:
        for w in workloads:
            self._workloads[w.name] = w
        runtime = self._rt()
        await asyncio.to_thread(runtime.start, self._nodes, self.local.links, list(workloads))

    async def remove(self, names: Sequence[str]) -> None:
        runtime = self._rt()
        await asyncio.to_thread(runtime.remove, list(names))
        for name in names:
            self._workloads.pop(name, None)

    async def remove_all(self) -> None:
        await asyncio.to_thread(self._rt().stop)
        self._workloads.clear()

    async def status(self) -> list[InstanceStatus]:
        if self._runtime is None and not (self.run_dir.exists() and any(self.run_dir.iterdir())):
            return []  # nothing was ever started here
        raw = await asyncio.to_thread(self._rt().status)
        out = []
        for item in raw:
            data = item if isinstance(item, dict) else item.model_dump() if hasattr(item, "model_dump") else vars(item)
            out.append(
                InstanceStatus.model_validate({k: v for k, v in data.items() if k in InstanceStatus.model_fields})
            )
        return out

    def topology(self) -> Topology | None:
        path = self.run_dir / "topology.json"
        return StaticTopology.from_file(path) if path.is_file() else None
