"""What the local runtime is asked to run: virtual nodes, the links between them, and workloads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from common.topology import LinkModel
from common.workload import Workload


class VirtualNode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["cloud", "edge"] = Field(description="One cloud node; any number of edges.")
    arch: str = Field("amd64", description="CPU architecture reported for the node.")
    labels: dict[str, str] = Field(default_factory=dict)
    cpu_quota: float | None = Field(
        None,
        gt=0,
        le=1024,
        description="Cores the node's processes may use together (e.g. 0.5), enforced with a cgroup CPU quota "
        "where the runtime may use cgroups; none: unlimited.",
    )


class RuntimeSpec(BaseModel):
    """A whole local deployment (what ``python -m backend.local_runtime up SPEC`` reads)."""

    model_config = ConfigDict(extra="forbid")

    nodes: dict[str, VirtualNode] = Field(min_length=1, description="Virtual node name -> role.")
    links: list[LinkModel] = Field(default_factory=list, description="Bandwidth/latency between virtual nodes.")
    workloads: list[Workload] = Field(default_factory=list, description="Components to start.")
    token: str | None = Field(None, description="Token every component requires (none: open).")
    link_mode: Literal["auto", "process", "netns"] = Field(
        "process",
        description="netns: nodes in network namespaces, links shaped by tc (needs root); process: senders "
        "shape their own transfers; auto: netns where possible. netns falls back to process when it cannot run.",
    )
    host_ports: list[int] = Field(
        default_factory=list,
        description="Ports of this machine's loopback (the datasource) that netns nodes reach at their own 127.0.0.1.",
    )

    @model_validator(mode="after")
    def _check(self) -> RuntimeSpec:
        clouds = [name for name, node in self.nodes.items() if node.role == "cloud"]
        if len(clouds) != 1:
            raise ValueError(f"exactly one cloud node is required, found {len(clouds)}: {clouds}")
        names: set[str] = set()
        keys: set[tuple[str, str]] = set()
        for w in self.workloads:
            if w.node not in self.nodes:
                raise ValueError(f"workload {w.name!r} is placed on unknown node {w.node!r}")
            if w.name in names:
                raise ValueError(f"workload name {w.name!r} is used twice")
            names.add(w.name)
            key = (w.node, ("processor/" if w.component == "processor" else "") + w.topology_key())
            if key in keys:
                raise ValueError(f"node {w.node!r} would run {key[1]!r} twice (workload {w.name!r})")
            keys.add(key)
        for link in self.links:
            for end in (link.a, link.b):
                if end not in self.nodes:
                    raise ValueError(f"link {link.a}-{link.b} names unknown node {end!r}")
        return self


def same_deployment(current: RuntimeSpec, spec: RuntimeSpec) -> bool:
    """True when ``spec`` differs from ``current`` in its workloads only (same nodes, links, token, link mode
    and host ports): then :meth:`LocalRuntime.apply` changes the workloads in place instead of restarting."""
    return (
        current.nodes == spec.nodes
        and current.links == spec.links
        and current.token == spec.token
        and current.link_mode == spec.link_mode
        and current.host_ports == spec.host_ports
    )


@dataclass(frozen=True)
class WorkloadDiff:
    """What an apply changes: workloads that go, that restart (changed, or not running) and that are new."""

    gone: list[str]
    changed: list[str]
    added: list[str]

    @classmethod
    def of(cls, current: RuntimeSpec, spec: RuntimeSpec, alive: set[str]) -> WorkloadDiff:
        before = {w.name: w for w in current.workloads}
        after = {w.name: w for w in spec.workloads}
        return cls(
            gone=[name for name in before if name not in after],
            changed=[name for name, w in after.items() if name in before and (before[name] != w or name not in alive)],
            added=[name for name in after if name not in before],
        )

    @property
    def fresh(self) -> set[str]:
        """The workloads the apply starts."""
        return set(self.changed) | set(self.added)
