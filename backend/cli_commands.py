"""What each ``dayuctl`` command that talks to the backend does, on the replies' models (``backend/contracts``).

The parser that maps a command line to these is in :mod:`backend.cli`. Output: tables for people, the
replies as the backend sent them (``--json``) for scripts.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from backend.cli_client import Api, CliError
from backend.contracts.catalog import (
    DagInfo,
    DagList,
    DagNode,
    DatasourceList,
    PolicyList,
    UploadReport,
    VideoAdded,
)
from backend.contracts.install import InstallPhase, InstallState, InstallStatus, InstanceList
from backend.contracts.query import QueryState
from backend.contracts.views import ResultViewPage
from backend.deploy.base import NotReady

INSTALL_POLL_S = 0.5
Online = Callable[[Api, argparse.Namespace], None]
"""A command that talks to the backend."""

# -- output ------------------------------------------------------------------------------------


def plain(data: Any) -> Any:
    """Models as the backend sends them (JSON types, by alias), inside lists and dicts too."""
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json", by_alias=True)
    if isinstance(data, Enum):
        return data.value
    if isinstance(data, list):
        return [plain(item) for item in data]
    if isinstance(data, dict):
        return {key: plain(value) for key, value in data.items()}
    return data


def table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return ",".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)


def emit(args: argparse.Namespace, data: Any, columns: Sequence[str] | None = None) -> None:
    data = plain(data)
    if args.json or columns is None:
        print(json.dumps(data, indent=None if args.json else 2))
    else:
        print(table(data if isinstance(data, list) else [data], columns))


# -- commands ------------------------------------------------------------------------------------


def show(method: str, path: str, reply: type[BaseModel], columns: Sequence[str] | None = None) -> Online:
    """A command that shows one route's reply (``path`` formatted with the command's arguments)."""

    def run(api: Api, args: argparse.Namespace) -> None:
        emit(args, api.call(method, path.format(**vars(args)), reply), columns)

    return run


def cmd_status(api: Api, args: argparse.Namespace) -> None:
    state = api.get("/api/install", InstallStatus)
    query = api.get("/api/query", QueryState)
    if args.json:
        emit(args, {**plain(state), "open": query.open})
        return
    summary: dict[str, Any] = {
        "phase": state.phase,
        "step": state.step,
        "policy": state.policy,
        "datasource": state.datasource,
        "open": query.open,
    }
    if state.degraded_reason:
        summary["degraded"] = state.degraded_reason
    if state.error:
        summary["error"] = state.error.message
    emit(args, summary, list(summary))
    if state.links is not None:
        reason = f" ({state.links.reason})" if state.links.reason else ""
        print(f"\nlinks: {state.links.mode} mode{reason}")
        rows = [{**plain(link), "link": f"{link.a}-{link.b}", "trace": link.trace or "-"} for link in state.links.links]
        emit(args, rows, ["link", "bandwidth_mbps", "latency_ms", "trace", "trace_mode", "current_mbps"])
    if state.phase == InstallPhase.INSTALLED:
        print()
        emit(
            args,
            api.get("/api/instances", InstanceList),
            ["name", "component", "node", "ready", "restarts", "age_s", "cpu", "memory_mb"],
        )


def wait_install(api: Api, args: argparse.Namespace, timeout: float) -> InstallStatus:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        state = api.get("/api/install", InstallStatus)
        line = f"{state.phase}: {state.step} {state.ready}".strip()
        if line != last and not args.json:
            print(f"  {line}", file=sys.stderr, flush=True)
            last = line
        if state.phase == InstallPhase.INSTALLED:
            return state
        if state.phase in (InstallPhase.FAILED, InstallPhase.UNINSTALLED):
            message = state.error.message if state.error else "unknown reason"
            not_ready = _not_ready(state.error.detail if state.error else None)
            extra = "; " + "; ".join(f"{r.name} ({r.phase}): {r.message}" for r in not_ready) if not_ready else ""
            raise CliError(f"install failed: {message}{extra}")
        time.sleep(INSTALL_POLL_S)
    raise CliError(f"install still not done after {timeout:.0f}s (see `dayuctl status`)")


def _not_ready(detail: Any) -> list[NotReady]:
    """The workloads a failed readiness wait names (its error's detail); none for an error of another kind."""
    if not isinstance(detail, Mapping) or not detail.get("not_ready"):
        return []
    try:
        return [NotReady.model_validate(entry) for entry in detail["not_ready"]]
    except (ValidationError, TypeError):
        return []


def cmd_install(api: Api, args: argparse.Namespace) -> None:
    body: dict[str, Any] = {"datasource": args.datasource, "policy": args.policy}
    if args.source:
        sources = []
        for spec in args.source:
            parts = spec.split(":")
            if len(parts) not in (2, 3):
                raise CliError(f"--source {spec!r}: expected SOURCE:DAG[:node1,node2]")
            nodes = parts[2].split(",") if len(parts) == 3 and parts[2] else []
            sources.append({"source_id": parts[0], "dag": parts[1], "nodes": nodes})
        body["sources"] = sources
    if args.dag:
        body["dag"] = args.dag
    if args.trace:
        body["trace"] = args.trace
        body["trace_mode"] = args.trace_mode
    api.post("/api/install", InstallState, json=body)
    state = wait_install(api, args, args.timeout) if not args.no_wait else api.get("/api/install", InstallStatus)
    emit(args, state if args.json else {"phase": state.phase, "placement": state.placement}, None)


def cmd_quickstart(api: Api, args: argparse.Namespace) -> None:
    state = api.get("/api/install", InstallStatus)
    if state.phase != InstallPhase.INSTALLED:
        policies = api.get("/api/policies", PolicyList).root
        policy = next((p.id for p in policies if p.default), None)
        datasources = api.get("/api/datasources", DatasourceList).root
        if not datasources:
            raise CliError("no datasource config is stored; upload one with `dayuctl datasource upload`")
        datasource = datasources[0].id
        dag = args.dag or "face-detection"
        print(f"installing DAG {dag!r} on datasource {datasource!r} with policy {policy!r}", file=sys.stderr)
        api.post("/api/install", InstallState, json={"datasource": datasource, "policy": policy, "dag": dag})
        wait_install(api, args, args.timeout)
    query = api.post("/api/query/open", QueryState, json={})
    print(f"open: {', '.join(query.sources)}; follow with `dayuctl results {query.sources[0]} --follow`")


RESULT_COLUMNS = ["seq", "kind", "task_id", "delay", "object_count", "offloading", "texts"]


def cmd_results(api: Api, args: argparse.Namespace) -> None:
    # Without --after, start from the latest records (what a person looking at a live run wants).
    latest = args.after is None
    cursor = args.after or 0
    deadline = time.monotonic() + args.duration if args.duration else None
    shown = 0
    while True:
        params = {"after": cursor, "limit": args.limit}
        if latest:
            params["tail"] = args.limit
            latest = False
        batch = api.get(f"/api/results/{args.source}", ResultViewPage, params=params)
        for record in batch.records:
            if args.json:
                print(json.dumps(plain(record)), flush=True)
            else:
                if not shown:
                    print("  ".join(f"{c.upper():<14}" for c in RESULT_COLUMNS).rstrip(), flush=True)
                print("  ".join(f"{_cell(getattr(record, c)):<14}" for c in RESULT_COLUMNS).rstrip(), flush=True)
            shown += 1
        cursor = batch.cursor or cursor
        if not args.follow or (deadline is not None and time.monotonic() > deadline):
            break
        if args.count and shown >= args.count:
            break
        if not batch.records:
            time.sleep(0.5)


def cmd_export(api: Api, args: argparse.Namespace) -> None:
    path = "/api/export/system" if args.system else "/api/export/results"
    params = {"source_id": args.source} if args.source and not args.system else {}
    out = Path(args.output)
    try:
        with api.stream(path, params, timeout=120) as response, out.open("wb") as fh:
            for chunk in response.iter_bytes():
                fh.write(chunk)
    except httpx.HTTPError as exc:
        raise CliError(f"export failed: {exc}") from None
    print(f"wrote {out} ({out.stat().st_size} bytes)")


def describe_edges(dag: Mapping[str, DagNode]) -> str:
    """``detect(text-detection) -> recognize(text-recognition)``: a DAG's edges, sentinels left out."""

    def label(name: str) -> str:
        return f"{name}({dag[name].service})"

    edges = [
        f"{label(name)} -> {label(succ)}"
        for name, stage in dag.items()
        if name not in ("_start", "_end")
        for succ in stage.next
        if succ != "_end"
    ]
    alone = [label(n) for n, s in dag.items() if n not in ("_start", "_end") and s.next == ["_end"]]
    linked = {part for edge in edges for part in edge.split(" -> ")}
    return ", ".join(edges + [a for a in alone if a not in linked]) or "-"


def cmd_dag_list(api: Api, args: argparse.Namespace) -> None:
    dags = api.get("/api/dags", DagList).root
    if args.json:
        emit(args, dags)
        return
    emit(args, [{"name": d.name, "stages": describe_edges(d.dag)} for d in dags], ["name", "stages"])


def cmd_dag_create(api: Api, args: argparse.Namespace) -> None:
    text = Path(args.file).read_text() if args.file else None
    if text is None:
        stages = [{"name": s.replace("/", "-"), "service": s} for s in args.chain]
        for a, b in itertools.pairwise(stages):
            a["next"] = [b["name"]]
        spec: Any = {"stages": stages}
    else:
        import yaml

        spec = yaml.safe_load(text)
    emit(args, api.post("/api/dags", DagInfo, json={"name": args.name, "stages": spec}), None)


def cmd_datasource_upload(api: Api, args: argparse.Namespace) -> None:
    files = [("files", (Path(f).name, Path(f).read_bytes(), "application/yaml")) for f in args.files]
    report = api.post("/api/datasources", UploadReport, files=files)
    emit(args, report.results, ["file", "ok", "id", "error"])
    if not report.ok:
        raise CliError("some files were refused")


def cmd_datasource_add(api: Api, args: argparse.Namespace) -> None:
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    form = {"mode": args.mode, "description": args.description or ""}
    if args.name:
        form["name"] = args.name
    with path.open("rb") as video:
        # The datasource decodes every frame before it answers: a long clip takes a while.
        added = api.post(
            "/api/datasources/video", VideoAdded, files={"file": (path.name, video)}, data=form, timeout=600
        )
    source = added.datasource.config.sources[0]
    row = {**plain(added.dataset), "datasource": added.datasource.id, "source": source.id, "mode": source.mode}
    emit(args, added if args.json else row, ["datasource", "source", "mode", "frames", "fps", "width", "height"])
    if not args.json:
        print("no ground truth: its accuracy is relative to the golden configuration", file=sys.stderr)
