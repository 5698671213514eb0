"""``dayuctl analyze EXPORT``: the policy benchmark's summary of any run, from a results export.

EXPORT is what ``dayuctl export`` (or the dashboard's export) writes: the distributor's records, one JSON
object a line, gzip-compressed or not. Each source is summarised with the benchmark's own function
(:func:`backend.benchpolicies.summary.summarise_records`) over all its tasks, from its first task id to its
last: latency percentiles, SLO violations (late, dropped, or a task id with no record at all), accuracy
and its reference, bytes over the link, drops by reason, the configurations and placements over time,
and the per-task figures per second of video. Needs no backend.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import zlib
from pathlib import Path
from typing import Any

MAX_LINE_BYTES = 64 * 1024 * 1024
"""A longer line is not a record of an export (a task with its results is far smaller)."""


class ExportError(Exception):
    """The file is not a results export; the message says where and why."""


def read_export(path: Path) -> list[dict[str, Any]]:
    """The records of an export, in order; a line that is not a record is an error naming its line."""
    try:
        with path.open("rb") as probe:
            compressed = probe.read(2) == b"\x1f\x8b"
        opener = gzip.open if compressed else open
        records = []
        with opener(path, "rb") as fh:
            for number, line in enumerate(fh, start=1):
                if len(line) > MAX_LINE_BYTES:
                    raise ExportError(f"{path}:{number}: a line of {len(line)} bytes is not a record")
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    raise ExportError(f"{path}:{number}: not JSON ({exc})") from None
                _check(record, path, number)
                records.append(record)
    except (OSError, EOFError, zlib.error) as exc:
        raise ExportError(f"cannot read {path}: {exc}") from None
    return records


def _check(record: Any, path: Path, number: int) -> None:
    if not isinstance(record, dict) or record.get("kind") not in ("result", "drop"):
        raise ExportError(f"{path}:{number}: not a result or drop record (no kind 'result' or 'drop')")
    key = "task" if record["kind"] == "result" else "drop"
    part = record.get(key)
    if not isinstance(part, dict) or not isinstance(part.get("task_id"), int):
        raise ExportError(f"{path}:{number}: a {record['kind']} record without its {key} (and its task_id)")


def _source(record: dict[str, Any]) -> str:
    part = record["task"] if record["kind"] == "result" else record["drop"]
    return str(record.get("source_id") or part.get("source_id") or "?")


def _time(record: dict[str, Any]) -> float | None:
    if record["kind"] == "result":
        return float(record["task"]["created_at"])
    task = record["drop"].get("task") or {}
    created = task.get("created_at", record["drop"].get("at"))
    return float(created) if created is not None else None


def _task_id(record: dict[str, Any]) -> int:
    return int(record["task"]["task_id"] if record["kind"] == "result" else record["drop"]["task_id"])


def analyze(records: list[dict[str, Any]], *, slo_ms: float, accuracy_reference: str | None) -> dict[str, Any]:
    """Per source: the benchmark's figures over every task of the export."""
    from backend.benchpolicies.summary import summarise_records  # numpy and the runner: only when analysing

    by_source: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_source.setdefault(_source(record), []).append(record)
    sources = {}
    for source, own in sorted(by_source.items()):
        ids = [_task_id(r) for r in own]
        times = [t for t in (_time(r) for r in own) if t is not None]
        sources[source] = summarise_records(
            own,
            slo_ms=slo_ms,
            started=min(times) if times else 0.0,
            first_task=min(ids),
            end_task=max(ids) + 1,
            accuracy_reference=accuracy_reference,
        )
    return {"slo_ms": slo_ms, "records": len(records), "sources": sources}


def render(summary: dict[str, Any], path: Path) -> str:
    from backend.benchpolicies.report import details, figures_table

    lines = [f"{path}: {summary['records']} records, SLO {summary['slo_ms']:g} ms.", ""]
    if not summary["sources"]:
        return "\n".join([*lines, "(no records)"]) + "\n"
    lines += figures_table(summary["sources"], first="source")
    for source, figures in summary["sources"].items():
        lines += ["", *details(source, figures)]
    return "\n".join(lines) + "\n"


ANALYZE_DESCRIPTION = __doc__
"""``dayuctl analyze --help``'s description (its options are declared with every command's, in backend/cli.py)."""


def run_analyze(args: argparse.Namespace) -> int:
    if not args.slo_ms > 0:
        print(f"dayuctl analyze: --slo-ms must be > 0, got {args.slo_ms:g}", file=sys.stderr)
        return 2
    try:
        records = read_export(args.export)
    except ExportError as exc:
        print(f"dayuctl analyze: {exc}", file=sys.stderr)
        return 1
    summary = analyze(records, slo_ms=args.slo_ms, accuracy_reference=args.accuracy_reference)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        sys.stdout.write(render(summary, args.export))
    return 0
