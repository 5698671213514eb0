"""From an install request and the scheduler's decisions to the list of workloads every runtime renders.

Stage 1 (scheduler, distributor, a monitor per node) must be healthy before the scheduler can be asked
where sources go and which services run where; stage 2 (a controller per node, processors, generators)
follows from its answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from backend.datasource_config import SourceEntry
from backend.templates import ComponentTemplate, PolicySpec, Template
from common.dag import DagSpec, build_dag
from common.task import SENTINELS, Stage
from common.topology import NodeSpec
from common.workload import Workload

JETSON_LABEL = "dayu.io/jetson"
GPU_LABELS = ("dayu.io/gpu", "nvidia.com/gpu.present")


class ResolvedSource(BaseModel):
    """A source ready to be planned: its entry, its DAG and the nodes it may use."""

    model_config = ConfigDict(extra="forbid")

    entry: SourceEntry
    dag_name: str
    dag: dict[str, Stage]
    spec: dict[str, Any] = Field(description="The DAG as the user wrote it (stages and edges).")
    nodes: list[str]
    attach: list[str] = Field(description="Edge nodes the source may be attached to.")


def dns_name(*parts: str) -> str:
    """A DNS-1123 label made of ``parts`` (lowercase, dashes, at most 63 characters)."""
    text = "-".join(p for p in parts if p)
    text = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return re.sub(r"-{2,}", "-", text)[:63].rstrip("-") or "x"


def image_for(template: Template, comp: ComponentTemplate, node: NodeSpec) -> str:
    """The image of ``comp`` for ``node``: Jetson label -> -jetson5/6, GPU label -> -gpu, else the plain one."""
    name = comp.image
    if comp.gpu_variants:
        jetson = node.labels.get(JETSON_LABEL)
        if jetson in ("5", "6"):
            name = f"{name}-jetson{jetson}"
        elif any(node.labels.get(label, "").lower() in ("true", "1", "yes") for label in GPU_LABELS):
            name = f"{name}-gpu"
    return template.base.image.reference(name)


class Planner:
    def __init__(
        self, template: Template, nodes: Mapping[str, NodeSpec], token: str | None, *, container_ports: bool = False
    ) -> None:
        self.template = template
        self.nodes = dict(nodes)
        self.token = token
        self.container_ports = container_ports  # clusters: the templates' ports; local: assigned free ports

    def cloud(self) -> str:
        return next(n for n, spec in self.nodes.items() if spec.role == "cloud")

    def edges(self) -> list[str]:
        return sorted(n for n, spec in self.nodes.items() if spec.role == "edge")

    def _env(self, node: str) -> dict[str, str]:
        env = {"DAYU_NODE": node}
        if self.token:
            env["DAYU_TOKEN"] = self.token
        return env

    def _positions(self, comp: ComponentTemplate) -> list[str]:
        if comp.position == "cloud":
            return [self.cloud()]
        if comp.position == "edge":
            return self.edges()
        return sorted(self.nodes)

    def _workload(
        self, name: str, comp: ComponentTemplate, node: str, stage: int, config: dict[str, Any], **extra: Any
    ) -> Workload:
        return Workload(
            name=name,
            component=comp.component,
            node=node,
            image=image_for(self.template, comp, self.nodes[node]),
            port=comp.port if self.container_ports else None,
            env={**comp.env, **self._env(node)},
            config=config,
            stage=1 if stage == 1 else 2,
            **extra,
        )

    def scheduler_config(self, policy: PolicySpec) -> dict[str, Any]:
        """The scheduler's config; its startup plan defaults to the generators' startup knobs, which are
        also what its agents answer with unless they set their own: a plan must not raise the load the
        template chose (the scheduler's built-in default is 720p at 30 fps)."""
        config = dict(self.template.component(policy.scheduler).config)
        knobs = self.template.component(policy.generator).config.get("startup_plan")
        if "startup" not in config and knobs is not None:
            config["startup"] = {"meta": knobs}
        return config

    def stage1(self, policy: PolicySpec, *, run_id: str | None = None) -> list[Workload]:
        """``run_id`` names the install: the distributor keeps its results apart from earlier runs'."""
        cloud = self.cloud()
        out = []
        for component in ("scheduler", "distributor"):
            comp = self.template.component(getattr(policy, component))
            config = self.scheduler_config(policy) if component == "scheduler" else dict(comp.config)
            if component == "distributor" and run_id is not None:
                config.setdefault("run_id", run_id)
            out.append(self._workload(component, comp, cloud, 1, config))
        monitor = self.template.component(policy.monitor)
        for node in self._positions(monitor):
            out.append(self._workload(dns_name("monitor", node), monitor, node, 1, dict(monitor.config)))
        return out

    def stage2(
        self,
        policy: PolicySpec,
        sources: list[ResolvedSource],
        placement: Mapping[str, str],
        deployment: Mapping[str, list[str]],
        stream_urls: Mapping[str, str],
    ) -> list[Workload]:
        out = []
        controller = self.template.component(policy.controller)
        for node in self._positions(controller):
            out.append(self._workload(dns_name("controller", node), controller, node, 2, dict(controller.config)))
        for service in sorted(deployment):
            comp = self.template.component(self.template.services[service].template)
            for node in sorted(set(deployment[service])):
                name = dns_name("processor", service, node)
                config = {**comp.config, "service": service}
                out.append(self._workload(name, comp, node, 2, config, service=service))
        generator = self.template.component(policy.generator)
        for src in sources:
            node = placement[src.entry.id]
            config = {**generator.config, **self.generator_config(src, deployment, stream_urls[src.entry.id])}
            name = dns_name("generator", src.entry.id)
            out.append(self._workload(name, generator, node, 2, config, source_id=src.entry.id))
        return out

    def generator_config(
        self, src: ResolvedSource, deployment: Mapping[str, list[str]], stream_url: str
    ) -> dict[str, Any]:
        """``stream_url`` is where an http/rtsp source is read; empty while it is not known yet (a simulated
        RTSP camera's URL is given to the generator when the datasource opens it). Installed generators start
        closed: they read once the datasource is opened (``POST /source/open``)."""
        entry = src.entry
        candidates = {}
        for name, stage in src.dag.items():
            if name in SENTINELS:
                continue
            deployed = deployment.get(stage.service, [])
            allowed = [n for n in deployed if n in src.nodes] or list(deployed)
            candidates[name] = sorted(allowed)
        return {
            "source_id": entry.id,
            "source": source_choice(entry, stream_url),
            "dag": src.spec,
            "services": {
                stage.service: {"input": svc.input, "output": svc.output}
                for name, stage in src.dag.items()
                if name not in SENTINELS and (svc := self.template.services[stage.service])
            },
            "candidates": candidates,
            "autostart": False,
        }


def source_choice(entry: SourceEntry, stream_url: str) -> dict[str, Any]:
    """The generator's `source` hook for ``entry``: its mode as the alias, the file or stream to read."""
    params: dict[str, Any] = dict(entry.params)
    if entry.mode == "file":
        params.setdefault("path", entry.path)
    elif entry.mode in ("http", "rtsp") and stream_url:
        params.setdefault("url", stream_url)
        if entry.mode == "http" and not entry.url:
            params.setdefault("platform", True)  # the datasource service: the only source given the token
    return {"alias": entry.mode, "params": params}


def resolve_dag(template: Template, spec: dict[str, Any]) -> dict[str, Stage]:
    return build_dag(DagSpec.model_validate(spec), template.service_types())


def services_of(sources: list[ResolvedSource]) -> list[str]:
    return sorted({s.service for src in sources for n, s in src.dag.items() if n not in SENTINELS})


def complete_deployment(
    deployment: Mapping[str, list[str]], sources: list[ResolvedSource], cloud: str
) -> dict[str, list[str]]:
    """Make sure every source can run every stage on one of its nodes; the cloud is the fallback."""
    out = {service: sorted(set(nodes)) for service, nodes in deployment.items()}
    for src in sources:
        for name, stage in src.dag.items():
            if name in SENTINELS:
                continue
            placed = out.setdefault(stage.service, [])
            if not any(n in src.nodes for n in placed):
                fallback = cloud if cloud in src.nodes else src.nodes[0]
                placed.append(fallback)
                placed.sort()
    return out
