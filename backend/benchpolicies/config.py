"""Settings of one benchmark run."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_POLICIES = [
    "fixed",
    "cloud-only",
    "edge-only",
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
"""Every policy: the static ones (``fixed`` runs the startup plan, the stage on the cloud; ``cloud-only`` and
``edge-only`` place it) and every adaptive one; by default those whose plugin cannot load here (no torch) are
skipped."""
QUICK_POLICIES = ["fixed", "fc"]
SYNTHETIC = "synthetic"
"""The clip name of the seeded synthetic street clip with ground truth."""
DEFAULT_TRACES = ["step-drop", "verizon-lte-short-up", "tmobile-umts-driving-up"]
"""The default suite's traces: the synthetic drop the agents were tuned on, and two measured cellular uplinks."""


class ClipChoice(BaseModel):
    """One clip of a suite and the service whose one-stage DAG plays it."""

    model_config = ConfigDict(extra="forbid")

    clip: str = Field(
        description=f"'{SYNTHETIC}', a real clip's name (datasource.clips: car-detection, bikes, ...) or a video file."
    )
    service: str | None = Field(None, description="Service id of the one-stage DAG; none: the template's default DAG.")
    model: str | None = Field(
        None,
        description="Model the stage runs (the application's model parameter); none: the processor template's. "
        "Policies choose knobs, not models: where the template's default model finds next to nothing of what "
        "the golden model finds on a clip, every policy would score about 0 against golden.",
    )


DEFAULT_CLIPS = [
    ClipChoice(clip=SYNTHETIC),
    ClipChoice(clip="bikes", service="pedestrian-detection", model="ssdlite"),
]
"""The synthetic clip (ground truth) and a real street clip (no ground truth: scored against golden). On the
street clip the template's default person model (HOG) matched none of the people SSDLite finds (11 on every
5th frame), so the stage runs SSDLite there and the golden configuration differs from it in knobs only."""


def default_model(clip: str, service: str | None) -> str | None:
    """The model the default suite runs for ``clip`` through ``service`` (None: the template's), so that
    naming one of its cases on the command line runs that case and not the template's default model."""
    for choice in DEFAULT_CLIPS:
        if choice.clip == clip and choice.service == service:
            return choice.model
    return None


class TuningSet(BaseModel):
    """What the agents were tuned on while they were written; every other trace and clip is held out."""

    model_config = ConfigDict(extra="forbid")

    traces: list[str] = Field(description="Traces used while tuning the agents.")
    clips: list[str] = Field(description="Clips used while tuning the agents.")


TUNED_ON = TuningSet(traces=["step-drop"], clips=[SYNTHETIC])


class BenchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policies: list[str] = Field(default_factory=lambda: list(DEFAULT_POLICIES), min_length=1)
    traces: list[str] = Field(
        default_factory=lambda: list(DEFAULT_TRACES),
        min_length=1,
        description="Trace names in template/traces/ or CSV files; every clip runs on each.",
    )
    clips: list[ClipChoice] = Field(
        default_factory=lambda: [c.model_copy() for c in DEFAULT_CLIPS],
        min_length=1,
        description="Clips, each with the service that processes it.",
    )
    tuned_on: TuningSet = Field(
        default_factory=lambda: TUNED_ON.model_copy(deep=True),
        description="The traces and clips the agents were tuned on; results on the others are reported "
        "first and apart (held out).",
    )
    golden_cache: Path = Field(
        Path(".dayu/bench/golden"),
        description="Where golden references are cached, per (clip content hash, service, golden configuration).",
    )
    duration_s: float = Field(70.0, gt=0, le=3600, description="Seconds each run measures, from the first result.")
    drain_s: float = Field(15.0, ge=0, le=600, description="Seconds to wait after a run for its tasks in flight.")
    slo_ms: float = Field(1000.0, gt=0, description="Delay a task should meet (segment end to end).")
    seed: int = Field(
        7,
        description="Seed of the synthetic clip's content and of every policy's draws; repeat r runs with seed + r, "
        "which also picks the clip's start offset and the trace's start phase.",
    )
    repeat: int = Field(2, ge=1, le=10, description="Runs per policy, each with its own seed.")
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
