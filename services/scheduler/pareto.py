"""An accuracy-bandwidth profile of whole configurations from golden labels, and its Pareto set.

Each :class:`~common.golden.LabelReport` scores candidate configurations on one golden segment: F1
against the golden model on those frames, and the bytes the candidate would have sent for them. The
profile keeps, per configuration, a mean of both (a plain mean over the first ``1 / alpha`` segments,
then a running mean that follows content changes), the bytes as a bit rate over the segment's seconds of
video. A segment on which the golden model found nothing scores every candidate 1 and says nothing about
accuracy: only its bytes are kept.

The Pareto set holds the configurations no other one beats on both axes, cheapest first: walking up by
bit rate, each member is strictly more accurate than every cheaper configuration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from common.errors import ConfigError
from common.golden import Knobs, LabelReport

Key = tuple[str, float, int | None]
"""A configuration as the profile knows it: (resolution, fps, qp)."""

REPORTS: TypeAdapter[list[LabelReport]] = TypeAdapter(list[LabelReport])


def key_of(knobs: Knobs) -> Key:
    return (knobs.resolution, float(knobs.fps), knobs.qp)


@dataclass
class Entry:
    """One configuration's profile: mean F1 against golden and mean bit rate, and how many segments each."""

    bps: float = 0.0
    f1: float | None = None
    bytes_seen: int = 0
    labels_seen: int = 0


@dataclass(frozen=True)
class Point:
    """A member of the Pareto set."""

    key: Key
    bps: float
    f1: float


class Profile:
    """Per-configuration accuracy and bit rate from golden labels; ``alpha``: weight of a new segment."""

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.entries: dict[Key, Entry] = {}
        self.segments = 0
        self.uninformative = 0

    def _weight(self, seen: int) -> float:
        return max(self.alpha, 1.0 / (seen + 1))

    def ingest(self, report: LabelReport) -> list[Key]:
        """Fold one labelled segment in; the configurations it scored."""
        duration = max(report.duration_s, 1e-6)
        informative = report.golden_objects > 0
        self.segments += 1
        if not informative:
            self.uninformative += 1
        scored = []
        for score in report.candidates:
            key = key_of(score.knobs)
            entry = self.entries.setdefault(key, Entry())
            bps = score.bytes * 8 / duration
            entry.bps += self._weight(entry.bytes_seen) * (bps - entry.bps)
            entry.bytes_seen += 1
            if informative:
                old = entry.f1
                entry.f1 = score.f1 if old is None else old + self._weight(entry.labels_seen) * (score.f1 - old)
                entry.labels_seen += 1
            scored.append(key)
        return scored

    def pareto(self) -> list[Point]:
        """The configurations no other one beats on both accuracy and bit rate, cheapest first."""
        known = [(e.bps, e.f1, key) for key, e in self.entries.items() if e.f1 is not None and e.bps > 0]
        known.sort(key=lambda item: (item[0], -item[1]))
        out: list[Point] = []
        for bps, f1, key in known:
            if not out or f1 > out[-1].f1:
                out.append(Point(key=key, bps=bps, f1=f1))
        return out


def load_reports(path: str) -> list[LabelReport]:
    """An offline profile: the golden labeller's reports (``POST /label`` answers) on a training clip."""
    file = Path(path)
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the profile {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from exc
    try:
        reports = REPORTS.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: not a list of label reports ({where}: {first['msg']})") from exc
    if not reports:
        raise ConfigError(f"{path}: the profile holds no label report")
    return reports
