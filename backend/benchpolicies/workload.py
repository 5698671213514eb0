"""The benchmark's workload: a clip (by default one seeded synthetic clip with ground truth), and the
deployment that plays it.

One cloud and one weaker edge node (a CPU quota) joined by a link that follows the trace; the source sits
on the edge and its DAG is one stage of the chosen service (by default the template's default DAG,
face detection) that the startup plan places on the cloud, so every segment crosses the link until a
policy decides otherwise. The processors run as the service's processor template configures them (its
application, queue and golden labeller), on one thread each. Every policy gets the same clip, deployment
and startup plan.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from backend.templates import load_template
from common.errors import ConfigError
from common.topology import LinkModel
from common.workload import Workload
from datasource.manifest import load_ground_truth, load_manifest
from datasource.synthetic.generate import SyntheticSpec, generate_dataset

SOURCE = "cam1"
EDGE = "edge1"
CLOUD = "cloud"
SERVICE = "face-detection"
STAGE = "face"
PROBE_BYTES = 128 * 1024
PLAN_TIMEOUT_S = 2.0
"""Plans are asked for in the background (the generator goes on with the last one meanwhile), so a
generous timeout costs nothing; a short one, on a loaded machine, kept every decision from reaching the
generator, and the agents that judge only tasks made with their own knobs then never judged again."""


FACE_SCALE = (1.0, 3.0)
"""Faces of ~65 to ~195 px at 720p: the detector (60 px smallest face) loses the small ones first as the
resolution drops, so accuracy falls gradually with resolution instead of all at once."""
DENSITY, SPEED = 3.0, 2.0
"""Busy enough that ~2.4 faces of varied sizes are in view per frame (one size would make F1 all or nothing)."""
CLIP_FRAMES = 300


def prepare_clip(root: Path, seed: int, frames: int = CLIP_FRAMES) -> tuple[Path, Path]:
    """The clip and its per-frame truth (a JSON list), generated once per seed under ``root``."""
    name = f"clip-seed{seed}-faces{FACE_SCALE[0]:g}-{FACE_SCALE[1]:g}-d{DENSITY:g}-s{SPEED:g}-{frames}"
    dataset = root / name
    truth_file = dataset / "truth.json"
    if not truth_file.exists():
        spec = SyntheticSpec(
            seed=seed,
            width=1280,
            height=720,
            fps=30.0,
            clips=1,
            frames_per_clip=frames,
            face_scale=FACE_SCALE,
            density=DENSITY,
            speed=SPEED,
            pedestrians=False,
        )
        generate_dataset(dataset, spec)
        manifest = load_manifest(dataset)
        truth = load_ground_truth(dataset, manifest)
        truth_file.write_text(json.dumps([truth.get(i, {"objects": []}) for i in range(spec.frames_per_clip)]))
    manifest = load_manifest(dataset)
    return dataset / "clips" / manifest.clips[0].file, truth_file


def nodes(edge_cpu_quota: float | None) -> dict[str, dict[str, Any]]:
    """The cloud with the machine's cores, the edge with ``edge_cpu_quota`` cores (None: no quota)."""
    return {CLOUD: {"role": "cloud"}, EDGE: {"role": "edge", "cpu_quota": edge_cpu_quota}}


def link(trace: str | None, mbps: float) -> dict[str, Any]:
    """The edge-cloud link: following ``trace`` where the topology can replay traces, else constant."""
    spec: dict[str, Any] = {"a": CLOUD, "b": EDGE, "bandwidth_mbps": mbps, "latency_ms": 5}
    if trace is not None:
        spec.update(trace=trace, trace_mode="hold")
    return spec


def traces_supported() -> bool:
    return "trace" in LinkModel.model_fields


def default_stage(template_dir: str | Path) -> tuple[str, str]:
    """(stage name, service) of the template's default DAG, which must have one stage."""
    base = load_template(template_dir).base
    spec = base.dags[base.defaults.dag]
    if len(spec.stages) != 1:
        raise ConfigError(f"the template's default DAG {base.defaults.dag!r} has {len(spec.stages)} stages, not one")
    return spec.stages[0].name, spec.stages[0].service


def stage_of(template_dir: str | Path, service: str) -> str:
    """The stage name of ``service``'s one-stage DAG: the default DAG's when it runs that service."""
    name, default = default_stage(template_dir)
    return name if service == default else service


def processor_config(template_dir: str | Path, service: str, model: str | None = None) -> dict[str, Any]:
    """The service's processor template config, on one thread (two processors share the machine), running
    ``model`` where given."""
    template = load_template(template_dir)
    spec = template.services.get(service)
    if spec is None:
        raise ConfigError(f"unknown service {service!r}; known: {', '.join(sorted(template.services))}")
    config = dict(template.component(spec.template).config)
    application = dict(config.get("application") or {})
    application["params"] = {**(application.get("params") or {}), "threads": 1}
    if model is not None:
        application["params"]["model"] = model
    return {**config, "service": service, "application": application}


def _labeller(processor: dict[str, Any], node: str) -> dict[str, Any]:
    """The golden labeller (chameleon's and the learners' accuracy without ground truth), on the cloud only.
    The default workload names no golden model, so the labeller uses the cascade the stage runs (on this
    synthetic set the cascade is the more accurate one: docs/applications.md); a service from the template
    keeps its template's golden model."""
    return {**(processor.get("labeller") or {}), "enabled": node == CLOUD, "nodes": [CLOUD], "min_period_s": 1.0}


def workloads(
    *,
    agent: dict[str, Any],
    startup: dict[str, Any],
    clip: Path,
    truth: Path | None,
    seed: int,
    service: str = SERVICE,
    stage: str = STAGE,
    processor: dict[str, Any] | None = None,
    output: str = "bbox",
) -> list[Workload]:
    dag = {"stages": [{"name": stage, "service": service}]}
    if processor is None:
        processor = {"service": service, "application": {"alias": service, "params": {"threads": 1}}}
    monitor = {
        "interval": 2.0,
        "probes": ["cpu", "memory", {"alias": "bandwidth", "params": {"size_bytes": PROBE_BYTES}}, "queue-length"],
    }
    out = [
        Workload(name="distributor", component="distributor", node=CLOUD, stage=1, config={"feedback": True}),
        Workload(
            name="scheduler",
            component="scheduler",
            node=CLOUD,
            stage=1,
            config={"agent": agent, "startup": {"meta": startup, "offload": {stage: CLOUD}}},
        ),
    ]
    for node in (CLOUD, EDGE):
        out += [
            Workload(name=f"monitor-{node}", component="monitor", node=node, stage=1, config=monitor),
            Workload(name=f"controller-{node}", component="controller", node=node),
            Workload(
                name=f"proc-{stage}-{node}",
                component="processor",
                node=node,
                service=service,
                config={**processor, "labeller": _labeller(processor, node)},
            ),
        ]
    source: dict[str, Any] = {"path": str(clip), "loop": True}
    if truth is not None:
        source["truth_path"] = str(truth)
    out.append(
        Workload(
            name="gen-cam1",
            component="generator",
            node=EDGE,
            source_id=SOURCE,
            config={
                "source_id": SOURCE,
                "source": {"alias": "file", "params": source},
                "dag": dag,
                "services": {service: {"input": "frame", "output": output}},
                "startup_plan": startup,
                "startup_offload": {stage: CLOUD},
                "schedule_interval": 1.0,
                "plan_timeout_s": PLAN_TIMEOUT_S,
            },
        )
    )
    return out
