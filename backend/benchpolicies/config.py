"""Settings of one benchmark run."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_POLICIES = [
    "fixed",
    "fc",
    "hei-nf",
    "dynamic",
    "chameleon",
    "offline-profiling",
    "online-profiling",
    "awstream",
    "casva",
    "hei",
]
"""Every adaptive policy and ``fixed``; by default those whose plugin cannot load here (no torch) are skipped."""
QUICK_POLICIES = ["fixed", "fc"]


class BenchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policies: list[str] = Field(default_factory=lambda: list(DEFAULT_POLICIES), min_length=1)
    trace: str = Field("step-drop", description="Trace name in template/traces/ or a CSV file.")
    duration_s: float = Field(70.0, gt=0, le=3600, description="Seconds each run measures, from the first result.")
    drain_s: float = Field(15.0, ge=0, le=600, description="Seconds to wait after a run for its tasks in flight.")
    slo_ms: float = Field(1000.0, gt=0, description="Delay a task should meet (segment end to end).")
    seed: int = Field(7, description="Seed of the synthetic clip and of every policy's draws.")
    repeat: int = Field(2, ge=1, le=10, description="Runs per policy.")
    out: Path = Field(Path(".dayu/bench/policies"), description="Where results, table and plots go.")
    template: Path = Field(Path("template"), description="Template whose scheduler configs the policies use.")
    quick: bool = Field(False, description="Short run of two policies (the e2e test).")
    fps: float = Field(10.0, gt=0, description="Startup fps of the source.")
    resolution: str = Field("720p", description="Startup resolution.")
    qp: int = Field(18, ge=0, le=51, description="Startup x264 qp.")
    buffer_size: int = Field(4, ge=1, description="Startup frames per segment.")
    profile_window_s: float = Field(
        30.0,
        gt=0,
        description="Seconds between profiling rounds of every agent that profiles periodically (chameleon): "
        "a round is about one decision per profiled configuration, so this keeps it a minor share of the time.",
    )
    link_mbps: float = Field(20.0, gt=0, description="Edge-cloud bandwidth when the trace cannot be replayed.")
    edge_cpu_quota: float | None = Field(
        0.5,
        gt=0,
        description="Cores the edge node may use (a cgroup CPU quota; the cloud has the machine's cores), so a "
        "stage placed on the edge costs what it would on a small edge box. None: the edge is as strong as the cloud.",
    )
    timeout_s: float = Field(90.0, gt=0, description="Start-up timeout of one install.")
