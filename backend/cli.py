"""``dayuctl``: the command line over the backend API.

The backend is found by ``--url``/``--token``, else ``DAYU_URL``/``DAYU_TOKEN``, else the files
``dayu.sh`` writes (``.dayu/run/backend.url`` and ``.dayu/token``, looked up from the current directory
upwards). Tables for people; ``--json`` for scripts.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from backend.benchpolicies.analyze import add_analyze_command
from backend.cli_local import add_local_commands
from backend.render_cli import add_render_command

INSTALL_POLL_S = 0.5


class CliError(Exception):
    """Shown as one plain line; the exit status is 1."""


def find_dayu_dir(start: Path) -> Path | None:
    for directory in [start, *start.parents]:
        candidate = directory / ".dayu"
        if (candidate / "token").is_file():
            return candidate
    return None


def resolve_target(url: str | None, token: str | None) -> tuple[str, str | None]:
    origin = "--url" if url else "$DAYU_URL"
    url = url or os.environ.get("DAYU_URL")
    token = token or os.environ.get("DAYU_TOKEN")
    dayu = find_dayu_dir(Path.cwd())
    if dayu is not None:
        if url is None and (dayu / "run" / "backend.url").is_file():
            origin = str(dayu / "run" / "backend.url")
            url = (dayu / "run" / "backend.url").read_text().strip()
        if token is None:
            token = (dayu / "token").read_text().strip()
    if url is None:
        raise CliError("no backend found: start one with dayu.sh, or give --url (or DAYU_URL)")
    check_url(url, origin)
    return url.rstrip("/"), token


def check_url(url: str, origin: str) -> None:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise CliError(f"{origin}: not a URL ({exc}): {url!r}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise CliError(f"{origin}: expected http(s)://host:port, got {url!r}")


class Api:
    def __init__(self, url: str, token: str | None, timeout: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url, headers=headers, timeout=timeout, trust_env=False)
        self.url = url

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach the backend at {self.url}: {exc}") from None
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                message = error["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:300]
            raise CliError(f"{method} {path}: {response.status_code}: {message}")
        return response.json() if response.content else None


# -- output ------------------------------------------------------------------------------------


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
    if args.json or columns is None:
        print(json.dumps(data, indent=None if args.json else 2))
    else:
        print(table(data if isinstance(data, list) else [data], columns))


# -- commands ------------------------------------------------------------------------------------


def cmd_status(api: Api, args: argparse.Namespace) -> None:
    state = api.call("GET", "/api/install")
    query = api.call("GET", "/api/query")
    data = {**state, "open": query.get("open")}
    summary = {k: data.get(k) for k in ("phase", "step", "policy", "datasource", "open")}
    if data.get("degraded_reason"):
        summary["degraded"] = data["degraded_reason"]
    if data.get("error"):
        summary["error"] = data["error"].get("message")
    emit(args, data if args.json else summary, None if args.json else list(summary))
    links = data.get("links")
    if not args.json and isinstance(links, dict):
        reason = f" ({links['reason']})" if links.get("reason") else ""
        print(f"\nlinks: {links.get('mode')} mode{reason}")
        rows = [
            {**link, "link": f"{link['a']}-{link['b']}", "trace": link.get("trace") or "-"}
            for link in links.get("links", [])
        ]
        emit(args, rows, ["link", "bandwidth_mbps", "latency_ms", "trace", "trace_mode", "current_mbps"])
    if not args.json and data.get("phase") == "installed":
        print()
        emit(
            args,
            api.call("GET", "/api/instances"),
            ["name", "component", "node", "ready", "restarts", "age_s", "cpu", "memory_mb"],
        )


def cmd_wait_install(api: Api, args: argparse.Namespace, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        state: dict[str, Any] = api.call("GET", "/api/install")
        line = f"{state.get('phase')}: {state.get('step')} {state.get('ready', '')}".strip()
        if line != last and not args.json:
            print(f"  {line}", file=sys.stderr, flush=True)
            last = line
        if state.get("phase") == "installed":
            return state
        if state.get("phase") in ("failed", "uninstalled"):
            error = state.get("error") or {}
            detail = error.get("detail") or {}
            extra = ""
            if isinstance(detail, dict) and detail.get("not_ready"):
                extra = "; " + "; ".join(f"{r['name']} ({r['phase']}): {r['message']}" for r in detail["not_ready"])
            raise CliError(f"install failed: {error.get('message', 'unknown reason')}{extra}")
        time.sleep(INSTALL_POLL_S)
    raise CliError(f"install still not done after {timeout:.0f}s (see `dayuctl status`)")


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
    api.call("POST", "/api/install", json=body)
    state = cmd_wait_install(api, args, args.timeout) if not args.no_wait else api.call("GET", "/api/install")
    emit(args, state if args.json else {"phase": state["phase"], "placement": state.get("placement")}, None)


def cmd_quickstart(api: Api, args: argparse.Namespace) -> None:
    state = api.call("GET", "/api/install")
    if state.get("phase") != "installed":
        policies = api.call("GET", "/api/policies")
        policy = next((p["id"] for p in policies if p.get("default")), None)
        datasources = api.call("GET", "/api/datasources")
        if not datasources:
            raise CliError("no datasource config is stored; upload one with `dayuctl datasource upload`")
        dag = args.dag or "face-detection"
        print(f"installing DAG {dag!r} on datasource {datasources[0]['id']!r} with policy {policy!r}", file=sys.stderr)
        api.call("POST", "/api/install", json={"datasource": datasources[0]["id"], "policy": policy, "dag": dag})
        cmd_wait_install(api, args, args.timeout)
    query = api.call("POST", "/api/query/open", json={})
    print(f"open: {', '.join(query['sources'])}; follow with `dayuctl results {query['sources'][0]} --follow`")


def cmd_results(api: Api, args: argparse.Namespace) -> None:
    # Without --after, start from the latest records (what a person looking at a live run wants).
    latest = args.after is None
    cursor = args.after or 0
    deadline = time.monotonic() + args.duration if args.duration else None
    columns = ["seq", "kind", "task_id", "delay", "object_count", "offloading", "texts"]
    shown = 0
    while True:
        params = {"after": cursor, "limit": args.limit}
        if latest:
            params["tail"] = args.limit
            latest = False
        batch = api.call("GET", f"/api/results/{args.source}", params=params)
        for record in batch["records"]:
            if args.json:
                print(json.dumps(record), flush=True)
            else:
                if not shown:
                    print("  ".join(f"{c.upper():<14}" for c in columns).rstrip(), flush=True)
                print("  ".join(f"{_cell(record.get(c)):<14}" for c in columns).rstrip(), flush=True)
            shown += 1
        cursor = batch["cursor"] or cursor
        if not args.follow or (deadline is not None and time.monotonic() > deadline):
            break
        if args.count and shown >= args.count:
            break
        if not batch["records"]:
            time.sleep(0.5)


def cmd_export(api: Api, args: argparse.Namespace) -> None:
    path = "/api/export/system" if args.system else "/api/export/results"
    params = {"source_id": args.source} if args.source and not args.system else {}
    out = Path(args.output)
    try:
        with api.http.stream("GET", path, params=params, timeout=120) as response:
            if response.status_code >= 400:
                response.read()
                raise CliError(f"GET {path}: {response.status_code}: {response.text[:300]}")
            with out.open("wb") as fh:
                for chunk in response.iter_bytes():
                    fh.write(chunk)
    except httpx.HTTPError as exc:
        raise CliError(f"export failed: {exc}") from None
    print(f"wrote {out} ({out.stat().st_size} bytes)")


def cmd_simple(method: str, path: str, columns: Sequence[str] | None = None) -> Any:
    def run(api: Api, args: argparse.Namespace) -> None:
        emit(args, api.call(method, path.format(**vars(args))), columns)

    return run


def describe_edges(dag: dict[str, Any]) -> str:
    """``detect(text-detection) -> recognize(text-recognition)``: a DAG's edges, sentinels left out."""

    def label(name: str) -> str:
        return f"{name}({dag[name].get('service')})"

    edges = [
        f"{label(name)} -> {label(succ)}"
        for name, stage in dag.items()
        if name not in ("_start", "_end")
        for succ in stage.get("next", [])
        if succ != "_end"
    ]
    alone = [label(n) for n, s in dag.items() if n not in ("_start", "_end") and s.get("next") == ["_end"]]
    linked = {part for edge in edges for part in edge.split(" -> ")}
    return ", ".join(edges + [a for a in alone if a not in linked]) or "-"


def cmd_dag_list(api: Api, args: argparse.Namespace) -> None:
    dags = api.call("GET", "/api/dags")
    if args.json:
        emit(args, dags)
        return
    emit(args, [{"name": d["name"], "stages": describe_edges(d.get("dag", {}))} for d in dags], ["name", "stages"])


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
    emit(args, api.call("POST", "/api/dags", json={"name": args.name, "stages": spec}), None)


def cmd_datasource_upload(api: Api, args: argparse.Namespace) -> None:
    files = [("files", (Path(f).name, Path(f).read_bytes(), "application/yaml")) for f in args.files]
    result = api.call("POST", "/api/datasources", files=files)
    emit(args, result["results"], ["file", "ok", "id", "error"])
    if not result["ok"]:
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
        result = api.call("POST", "/api/datasources/video", files={"file": (path.name, video)}, data=form, timeout=600)
    dataset, source = result["dataset"], result["datasource"]["config"]["sources"][0]
    row = {**dataset, "datasource": result["datasource"]["id"], "source": source["id"], "mode": source["mode"]}
    emit(args, result if args.json else row, ["datasource", "source", "mode", "frames", "fps", "width", "height"])
    if not args.json:
        print("no ground truth: its accuracy is relative to the golden configuration", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dayuctl", description="Dayu control plane CLI")
    p.add_argument("--url", help="backend URL (default: $DAYU_URL, else the one dayu.sh started)")
    p.add_argument("--token", help="API token (default: $DAYU_TOKEN, else .dayu/token)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("status", help="install state and instances").set_defaults(run=cmd_status)
    sub.add_parser("nodes", help="nodes").set_defaults(
        run=cmd_simple("GET", "/api/nodes", ["name", "role", "arch", "cpu", "memory", "labels"])
    )
    sub.add_parser("policies", help="scheduling policies").set_defaults(
        run=cmd_simple("GET", "/api/policies", ["id", "name", "default", "available", "unavailable_reason"])
    )
    sub.add_parser("services", help="services").set_defaults(
        run=cmd_simple("GET", "/api/services", ["id", "input", "output", "description"])
    )
    sub.add_parser("sources", help="installed sources").set_defaults(
        run=cmd_simple("GET", "/api/sources", ["source_id", "dag", "node", "open", "nodes"])
    )

    dag = sub.add_parser("dag", help="DAGs").add_subparsers(dest="dag_command", required=True)
    dag.add_parser("list").set_defaults(run=cmd_dag_list)
    create = dag.add_parser("create", help="from a YAML file (stages/edges) or a chain of services")
    create.add_argument("name")
    create.add_argument("chain", nargs="*", help="services in order, e.g. text-detection text-recognition")
    create.add_argument("-f", "--file", help="YAML file with `stages:` (and optional `edges:`)")
    create.set_defaults(run=cmd_dag_create)
    delete = dag.add_parser("delete")
    delete.add_argument("name")
    delete.set_defaults(run=cmd_simple("DELETE", "/api/dags/{name}"))

    ds = sub.add_parser("datasource", help="datasource configs").add_subparsers(dest="ds_command", required=True)
    ds.add_parser("list").set_defaults(
        run=cmd_simple("GET", "/api/datasources", ["id", "file_name", "open", "installed"])
    )
    upload = ds.add_parser("upload")
    upload.add_argument("files", nargs="+")
    upload.set_defaults(run=cmd_datasource_upload)
    add = ds.add_parser("add", help="a video file as a datasource of one source (no ground truth)")
    add.add_argument("--file", required=True, help="the video (any format FFmpeg decodes)")
    add.add_argument("--name", help="id of the datasource, its source and dataset (default: from the file name)")
    add.add_argument("--mode", choices=["http", "rtsp"], default="http", help="how the datasource serves it")
    add.add_argument("--description", help="what the video shows")
    add.set_defaults(run=cmd_datasource_add)
    ds_delete = ds.add_parser("delete")
    ds_delete.add_argument("id")
    ds_delete.set_defaults(run=cmd_simple("DELETE", "/api/datasources/{id}"))

    install = sub.add_parser("install", help="install a policy, a datasource and DAGs (waits, showing progress)")
    install.add_argument("--datasource", required=True)
    install.add_argument("--policy")
    install.add_argument("--dag", help="DAG for every source not given by --source")
    install.add_argument("--source", action="append", help="SOURCE:DAG[:node1,node2] (repeatable)")
    install.add_argument(
        "--trace", help="bandwidth trace of every link to the cloud: a name in template/traces/ or a CSV"
    )
    install.add_argument("--trace-mode", choices=["loop", "hold"], default="loop", help="at the trace's end")
    install.add_argument("--timeout", type=float, default=300)
    install.add_argument("--no-wait", action="store_true")
    install.set_defaults(run=cmd_install)
    sub.add_parser("uninstall").set_defaults(run=cmd_simple("POST", "/api/uninstall"))
    sub.add_parser("open", help="open the datasource").set_defaults(run=cmd_simple("POST", "/api/query/open"))
    sub.add_parser("close", help="close the datasource").set_defaults(run=cmd_simple("POST", "/api/query/close"))

    results = sub.add_parser("results", help="results of a source")
    results.add_argument("source")
    results.add_argument("--after", type=int, default=None, help="records after this seq (default: the latest)")
    results.add_argument("--limit", type=int, default=20, help="records per request (default 20)")
    results.add_argument("--follow", "-f", action="store_true", help="keep polling for new results")
    results.add_argument("--count", type=int, default=0, help="with --follow: stop after this many records")
    results.add_argument("--duration", type=float, default=0, help="with --follow: stop after this many seconds")
    results.set_defaults(run=cmd_results)

    export = sub.add_parser("export", help="results (gzip JSON Lines) or system snapshots")
    export.add_argument("--source")
    export.add_argument("--system", action="store_true")
    export.add_argument("-o", "--output", required=True)
    export.set_defaults(run=cmd_export)

    quick = sub.add_parser("quickstart", help="install the default DAG on the default datasource and open it")
    quick.add_argument("--dag")
    quick.add_argument("--timeout", type=float, default=300)
    quick.set_defaults(run=cmd_quickstart)
    add_render_command(sub)
    add_analyze_command(sub)
    add_local_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "offline", None) is not None:  # needs no backend
        code: int = args.offline(args)
        return code
    try:
        url, token = resolve_target(args.url, args.token)
        args.run(Api(url, token), args)
    except CliError as exc:
        print(f"dayuctl: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"dayuctl: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
