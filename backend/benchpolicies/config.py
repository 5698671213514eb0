"""Settings of one benchmark run."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_POLICIES = ["fixed", "fc", "hei-nf", "dynamic", "chameleon", "offline-profiling", "online-profiling"]
QUICK_POLICIES = ["fixed", "fc"]


class BenchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policies: list[str] = Field(default_factory=lambda: list(DEFAULT_POLICIES), min_length=1)
    trace: str = Field("step-drop", description="Trace name in template/traces/ or a CSV file.")
    duration_s: float = Field(80.0, gt=0, le=3600, description="Seconds each policy runs.")
    slo_ms: float = Field(1000.0, gt=0, description="Delay a task should meet (segment end to end).")
    seed: int = Field(7, description="Seed of the synthetic clip and of every policy's draws.")
    repeat: int = Field(1, ge=1, le=10, description="Runs per policy.")
    out: Path = Field(Path(".dayu/bench/policies"), description="Where results, table and plots go.")
    template: Path = Field(Path("template"), description="Template whose scheduler configs the policies use.")
    quick: bool = Field(False, description="Short run of two policies (the e2e test).")
    fps: float = Field(10.0, gt=0, description="Startup fps of the source.")
    resolution: str = Field("720p", description="Startup resolution.")
    qp: int = Field(18, ge=0, le=51, description="Startup x264 qp.")
    buffer_size: int = Field(4, ge=1, description="Startup frames per segment.")
    link_mbps: float = Field(20.0, gt=0, description="Edge-cloud bandwidth when the trace cannot be replayed.")
    timeout_s: float = Field(90.0, gt=0, description="Start-up timeout of one install.")
