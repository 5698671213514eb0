"""The policy benchmark's ``results.json`` read into the dashboard's suite (``backend.contracts.bench``).

The file is what ``dayuctl bench-policies`` wrote: a suite (``cases`` keyed by ``<trace>--<clip>--<service>``,
with ``held_out`` and ``tuned_on`` lists) or, from before the suite existed, one case (``settings`` and
``policies``). Per case and policy, each figure is merged over the seeded runs (``repeats``) here, from the
runs themselves, so the mean and spread shown are those of the runs listed beside them.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backend.contracts.bench import (
    BenchCase,
    BenchRun,
    BenchSuite,
    CaseFigures,
    FigureStat,
    PolicyCase,
    Reference,
)
from common.errors import InvalidInput

MAX_RESULTS_BYTES = 256 * 1024 * 1024
"""A full suite with every run's per-task records is tens of MB; far more is not a benchmark's file."""
ERRORS_SHOWN = 3
REFERENCES = ("ground_truth", "golden")


class _Read(BaseModel):
    # The file holds much more than the dashboard reads (per-task records, timelines, agents' figures):
    # only these fields are checked, the rest is left as the benchmark wrote it.
    model_config = ConfigDict(extra="ignore")


class _Run(_Read):
    seed: int | None = None
    clip_offset_frames: int | None = None
    trace_phase_s: float | None = None
    accuracy_reference: str | None = None
    accuracy_f1: float | None = None
    accuracy_f1_ground_truth: float | None = None
    accuracy_f1_golden: float | None = None
    latency_ms_p50: float | None = None
    latency_ms_p95: float | None = None
    slo_violation_rate: float | None = None
    link_mbytes: float | None = None
    task_mbytes: float | None = None
    probe_mbytes: float | None = None
    probe_unknown: str | None = None
    drop_rate: float | None = None
    tasks: int | None = None
    drops: int | None = None


class _Policy(_Read):
    accuracy_reference: str | None = None
    repeats: list[_Run] = Field(min_length=1)


class _Settings(_Read):
    trace: str
    clip: str | None = None
    service: str | None = None
    held_out: bool | None = None
    accuracy_reference: str | None = None
    duration_s: float | None = None
    slo_ms: float | None = None
    policies: list[str] | None = None


class _Case(_Read):
    settings: _Settings
    policies: dict[str, _Policy]


class _Provenance(_Read):
    commit: str | None = None
    dirty: bool | None = None
    command: str | None = None


class _Suite(_Read):
    provenance: _Provenance = Field(default_factory=_Provenance)
    held_out: list[str] = Field(default_factory=list)
    tuned_on: list[str] = Field(default_factory=list)
    cases: dict[str, _Case]


@dataclass(frozen=True)
class _Cached:
    key: tuple[str, int, int, int, int, tuple[str, ...]]
    """The file's path, device, inode, mtime_ns and size (as the open file's ``fstat`` gave them), the plots."""
    suite: BenchSuite | None
    error: str | None
    """What was wrong with the file: raised anew on each load (a kept exception's traceback would grow)."""


class BenchResultsFile:
    """The dashboard's reader of the benchmark's results file, keeping its last answer.

    The dashboard asks on every page load, and the file may be hundreds of MB: the last answer (a suite or
    the error) is kept, one entry, and given again while the file's device, inode, mtime and size are
    unchanged (a rewrite in place changes the mtime, a replacement the inode). The answer is shared:
    callers do not modify it. One load at a time, so two page loads never parse the same file twice at once.
    The control plane holds one for the backend's life."""

    def __init__(self) -> None:
        self._cached: _Cached | None = None
        self._lock = threading.Lock()
        self.parses = 0
        """How many times :meth:`load` read and parsed a file (not answered from what it kept)."""

    def load(self, path: Path, plots: list[str]) -> BenchSuite:
        """The suite in ``path``; ``plots`` are the PNG names beside it. InvalidInput says what is wrong."""
        with self._lock:
            try:
                file = open(path, "rb")  # noqa: SIM115 - closed by the block below
            except OSError:
                self._cached = None  # the file is gone or unreadable: its last answer is not kept
                raise
            with file:
                return self._answer(file, path, plots)

    def _answer(self, file: BinaryIO, path: Path, plots: list[str]) -> BenchSuite:
        """The kept answer while the open file is the one it was made of; else the file read and parsed."""
        stat = os.fstat(file.fileno())  # of the file read below, even if the path is replaced meanwhile
        key = (str(path), stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size, tuple(plots))
        cached = self._cached
        if cached is None or cached.key != key:
            self._cached = None  # a read that fails leaves no stale answer behind
            self.parses += 1
            try:
                cached = _Cached(key, _read(file, stat.st_size, path.name, plots), None)
            except InvalidInput as exc:
                cached = _Cached(key, None, exc.message)
            self._cached = cached
        if cached.error is not None:
            raise InvalidInput(cached.error)
        assert cached.suite is not None
        return cached.suite


def _read(file: BinaryIO, size: int, name: str, plots: list[str]) -> BenchSuite:
    if size > MAX_RESULTS_BYTES:
        raise InvalidInput(f"{name} is {size} bytes, more than {MAX_RESULTS_BYTES} a benchmark writes")
    try:
        data = json.loads(file.read(MAX_RESULTS_BYTES + 1))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{name} does not parse as JSON: {exc}") from None
    return parse(data, plots, name=name)


def parse(data: Any, plots: list[str], name: str = "results.json") -> BenchSuite:
    """The suite of a decoded ``results.json``."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{name} is not a JSON object but {type(data).__name__}")
    try:
        if "cases" in data:
            return _suite(_Suite.model_validate(data), plots)
        if "settings" in data and "policies" in data:
            return _single(_Case.model_validate(data), plots)
    except ValidationError as exc:
        raise InvalidInput(f"{name} is not a policy benchmark's results: {_errors(exc)}") from None
    raise InvalidInput(
        f"{name} is not a policy benchmark's results: it holds neither `cases` (a suite) "
        "nor `settings` and `policies` (one case)"
    )


def _errors(exc: ValidationError) -> str:
    shown = [f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()[:ERRORS_SHOWN]]
    more = exc.error_count() - len(shown)
    return "; ".join(shown) + (f" (and {more} more)" if more > 0 else "")


def _suite(suite: _Suite, plots: list[str]) -> BenchSuite:
    listed = [*suite.held_out, *suite.tuned_on]
    missing = [key for key in listed if key not in suite.cases]
    if missing:
        raise InvalidInput(f"results.json lists case(s) {', '.join(missing)} that `cases` does not hold")
    order = listed + [key for key in suite.cases if key not in listed]
    cases = []
    for key in order:
        held: bool | None = True if key in suite.held_out else False if key in suite.tuned_on else None
        cases.append(_case(key, suite.cases[key], plots, held))
    return BenchSuite(
        layout="suite",
        commit=suite.provenance.commit,
        dirty=suite.provenance.dirty,
        command=suite.provenance.command,
        policies=_policies(cases),
        cases=cases,
    )


def _single(case: _Case, plots: list[str]) -> BenchSuite:
    # Before the suite, the plots lay at the top without a case prefix: all of them are this case's.
    one = _case(case.settings.trace, case, plots, case.settings.held_out, own_plots=plots)
    return BenchSuite(layout="single", policies=_policies([one]), cases=[one])


def _policies(cases: list[BenchCase]) -> list[str]:
    seen: dict[str, None] = {}
    for case in cases:
        for policy in case.policies:
            seen.setdefault(policy.policy)
    return list(seen)


def _case(key: str, case: _Case, plots: list[str], held: bool | None, own_plots: list[str] | None = None) -> BenchCase:
    settings = case.settings
    policies = [
        PolicyCase(policy=name, figures=_figures(p.repeats), runs=_runs(p.repeats)) for name, p in case.policies.items()
    ]
    seeds: dict[int, None] = {}
    for policy in policies:
        for run in policy.runs:
            if run.seed is not None:
                seeds.setdefault(run.seed)
    return BenchCase(
        key=key,
        trace=settings.trace,
        clip=settings.clip,
        service=settings.service,
        held_out=held if held is not None else settings.held_out,
        accuracy_reference=_reference(settings, case),
        seeds=list(seeds),
        duration_s=settings.duration_s,
        slo_ms=settings.slo_ms,
        policies=policies,
        plots=own_plots if own_plots is not None else [p for p in plots if p.startswith(f"{key}--")],
    )


def _reference(settings: _Settings, case: _Case) -> Reference | None:
    """The case's accuracy reference: its settings', else the one its policies or runs recorded."""
    named = [settings.accuracy_reference]
    for policy in case.policies.values():
        named += [policy.accuracy_reference, *(r.accuracy_reference for r in policy.repeats)]
    found = {n for n in named if n is not None}
    unknown = found - set(REFERENCES)
    if unknown:
        raise InvalidInput(f"results.json names an unknown accuracy reference {sorted(unknown)[0]!r}")
    chosen = settings.accuracy_reference or (found.pop() if len(found) == 1 else None)
    return "ground_truth" if chosen == "ground_truth" else "golden" if chosen == "golden" else None


def _runs(repeats: list[_Run]) -> list[BenchRun]:
    return [BenchRun(**r.model_dump(exclude={"accuracy_reference"})) for r in repeats]


def _stat(values: list[float | None]) -> FigureStat:
    known = [v for v in values if v is not None]
    return FigureStat(
        mean=statistics.fmean(known) if known else None,
        spread=max(known) - min(known) if len(known) > 1 else None,
        runs=len(known),
    )


def _figures(repeats: list[_Run]) -> CaseFigures:
    return CaseFigures(**{name: _stat([getattr(r, name) for r in repeats]) for name in CaseFigures.model_fields})
