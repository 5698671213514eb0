"""The policy benchmark's latest results, as the dashboard shows them: a suite of cases (trace x clip x service),
each with every policy's figures over its seeded runs, merged into mean and spread by the backend."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

Reference = Literal["ground_truth", "golden"]


class FigureStat(BaseModel):
    """One figure of one policy in one case, over the case's seeded runs."""

    model_config = ConfigDict(extra="forbid")

    mean: float | None = Field(description="Mean over the runs that have the figure; none when no run has it.")
    spread: float | None = Field(
        description="Max - min over those runs (the benchmark's spread); none with fewer than two."
    )
    runs: int = Field(description="Runs that have the figure.")


class CaseFigures(BaseModel):
    """What the dashboard compares across policies: accuracy, delay, bytes (probes included) and drops."""

    model_config = ConfigDict(extra="forbid")

    accuracy_f1: FigureStat = Field(description="F1 over every source frame, against the case's reference.")
    latency_ms_p50: FigureStat = Field(description="Median task delay, ms.")
    latency_ms_p95: FigureStat = Field(description="95th percentile task delay, ms.")
    slo_violation_rate: FigureStat = Field(description="Share of the window's tasks late, dropped or unfinished.")
    link_mbytes: FigureStat = Field(description="MB over the edge-cloud link: tasks' segments and bandwidth probes.")
    probe_mbytes: FigureStat = Field(description="MB of the edges' bandwidth probes (part of link_mbytes).")
    drop_rate: FigureStat = Field(description="Share of the window's tasks dropped.")


class BenchRun(BaseModel):
    """One seeded run of one policy in one case, as the benchmark recorded it."""

    model_config = ConfigDict(extra="forbid")

    seed: int | None = Field(None, description="The run's seed (base seed + repeat).")
    clip_offset_frames: int | None = Field(None, description="Frame of the clip the source started at.")
    trace_phase_s: float | None = Field(None, description="Seconds into the trace the link started at.")
    accuracy_f1: float | None = Field(None, description="F1 against the case's reference.")
    accuracy_f1_ground_truth: float | None = Field(None, description="F1 against ground truth, where the clip has it.")
    accuracy_f1_golden: float | None = Field(None, description="F1 against the golden configuration.")
    latency_ms_p50: float | None = Field(None, description="Median task delay, ms.")
    latency_ms_p95: float | None = Field(None, description="95th percentile task delay, ms.")
    slo_violation_rate: float | None = Field(None, description="Share of tasks late, dropped or unfinished.")
    link_mbytes: float | None = Field(None, description="MB over the link, probes included; none when unknown.")
    task_mbytes: float | None = Field(None, description="MB of the tasks' segments that crossed the link.")
    probe_mbytes: float | None = Field(None, description="MB of the bandwidth probes; none when unknown.")
    probe_unknown: str | None = Field(None, description="Why the probes' bytes are unknown.")
    drop_rate: float | None = Field(None, description="Share of tasks dropped.")
    tasks: int | None = Field(None, description="Tasks that finished in the window.")
    drops: int | None = Field(None, description="Tasks of the window dropped.")


class PolicyCase(BaseModel):
    """One policy in one case: its figures over the seeds, and each run."""

    model_config = ConfigDict(extra="forbid")

    policy: str
    figures: CaseFigures
    runs: list[BenchRun] = Field(description="The runs, one per seed, in the order they ran.")


class BenchCase(BaseModel):
    """One (trace, clip, service) of the suite."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(description="The case's folder name, `<trace>--<clip>--<service>`.")
    trace: str
    clip: str | None = Field(None, description="The clip's short name; none in a file that does not record it.")
    service: str | None = Field(None, description="Service of the one-stage DAG; none when not recorded.")
    held_out: bool | None = Field(
        None, description="Whether the agents were tuned without this case; none when the file does not say."
    )
    accuracy_reference: Reference | None = Field(
        None, description="What accuracy is scored against: ground truth or the golden configuration."
    )
    seeds: list[int] = Field(description="The seeds its runs used.")
    duration_s: float | None = Field(None, description="Seconds measured per run.")
    slo_ms: float | None = Field(None, description="Delay a task should meet, ms.")
    policies: list[PolicyCase]
    plots: list[str] = Field(description="Its PNG plots, served by `/files/{name}`.")


class BenchSuite(BaseModel):
    """`results.json` merged for comparison: every case, held-out ones first."""

    model_config = ConfigDict(extra="forbid")

    layout: Literal["suite", "single"] = Field(
        description="`suite`: a results.json of cases; `single`: one case, written before the suite existed."
    )
    commit: str | None = Field(None, description="Commit the benchmark ran at.")
    dirty: bool | None = Field(None, description="Whether that checkout had local changes.")
    command: str | None = Field(None, description="The command line that ran it.")
    policies: list[str] = Field(description="Every policy of any case, in the order they ran.")
    cases: list[BenchCase]


class PolicyBench(BaseModel):
    model_config = ConfigDict(extra="forbid")

    available: bool = Field(description="Whether a policy benchmark has written results.")
    suite: BenchSuite | None = Field(None, description="`results.json`, merged, when present and readable.")
    results_file: bool = Field(False, description="Whether `results.json` is present (served by `/files/{name}`).")
    table: str | None = Field(None, description="`table.md`, when present.")
    plots: list[str] = Field(default_factory=list, description="PNG file names, served by `/files/{name}`.")
    error: str | None = Field(None, description="Why a present file could not be read.")


class BenchResults(RootModel[Any]):
    """``results.json`` of the policy benchmark, as the benchmark wrote it (its layout is the benchmark's)."""
