"""``dayuctl``: the command line over the backend API.

The backend is found by ``--url``/``--token``, else ``DAYU_URL``/``DAYU_TOKEN``, else the files
``dayu.sh`` writes (``.dayu/run/backend.url`` and ``.dayu/token``, looked up from the current directory
upwards). Tables for people; ``--json`` for scripts.

Every command and option is declared here, in :data:`COMMANDS`; what a command does is in
:mod:`backend.cli_commands` (those that talk to the backend, through the typed client of
:mod:`backend.cli_client`) or in the module of a command that needs no backend.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.benchpolicies.analyze import ANALYZE_DESCRIPTION, run_analyze
from backend.cli_client import Api, CliError, resolve_target
from backend.cli_commands import (
    Online,
    cmd_dag_create,
    cmd_dag_list,
    cmd_datasource_add,
    cmd_datasource_upload,
    cmd_export,
    cmd_install,
    cmd_quickstart,
    cmd_results,
    cmd_status,
    show,
)
from backend.cli_local import bench_arguments, run_bench, run_profile
from backend.contracts.catalog import DatasourceList, Deleted, NodeList, PolicyList, ServiceList
from backend.contracts.install import InstallState
from backend.contracts.query import QueryState, SourceList
from backend.render_cli import RENDER_DESCRIPTION, run_render

Offline = Callable[[argparse.Namespace], int]
"""A command that needs no backend; it returns the exit status."""


@dataclass(frozen=True)
class Opt:
    """One argument of a command, as ``ArgumentParser.add_argument`` takes it."""

    flags: tuple[str, ...]
    settings: Mapping[str, Any]


def opt(*flags: str, **settings: Any) -> Opt:
    return Opt(flags, settings)


@dataclass(frozen=True)
class Command:
    """A command: what it runs (``run`` with the backend, ``offline`` without), or its own subcommands."""

    name: str
    help: str | None = None
    run: Online | None = None
    offline: Offline | None = None
    options: Sequence[Opt] = ()
    more_options: Callable[[argparse.ArgumentParser], None] | None = None
    """Options the command's own module declares (it has its own entry point too)."""
    subcommands: Sequence[Command] = ()
    dest: str | None = None
    """Where a group's subcommand name goes."""
    parser: Mapping[str, Any] = field(default_factory=dict)
    """More settings of the command's parser (description, formatter)."""


GLOBAL_OPTIONS = (
    opt("--url", help="backend URL (default: $DAYU_URL, else the one dayu.sh started)"),
    opt("--token", help="API token (default: $DAYU_TOKEN, else .dayu/token)"),
    opt("--json", action="store_true", help="machine-readable output"),
)

COMMANDS: Sequence[Command] = (
    Command("status", "install state and instances", run=cmd_status),
    Command(
        "nodes", "nodes", run=show("GET", "/api/nodes", NodeList, ["name", "role", "arch", "cpu", "memory", "labels"])
    ),
    Command(
        "policies",
        "scheduling policies",
        run=show("GET", "/api/policies", PolicyList, ["id", "name", "default", "available", "unavailable_reason"]),
    ),
    Command(
        "services", "services", run=show("GET", "/api/services", ServiceList, ["id", "input", "output", "description"])
    ),
    Command(
        "sources",
        "installed sources",
        run=show("GET", "/api/sources", SourceList, ["source_id", "dag", "node", "open", "nodes"]),
    ),
    Command(
        "dag",
        "DAGs",
        dest="dag_command",
        subcommands=(
            Command("list", run=cmd_dag_list),
            Command(
                "create",
                "from a YAML file (stages/edges) or a chain of services",
                run=cmd_dag_create,
                options=(
                    opt("name"),
                    opt("chain", nargs="*", help="services in order, e.g. text-detection text-recognition"),
                    opt("-f", "--file", help="YAML file with `stages:` (and optional `edges:`)"),
                ),
            ),
            Command("delete", run=show("DELETE", "/api/dags/{name}", Deleted), options=(opt("name"),)),
        ),
    ),
    Command(
        "datasource",
        "datasource configs",
        dest="ds_command",
        subcommands=(
            Command(
                "list", run=show("GET", "/api/datasources", DatasourceList, ["id", "file_name", "open", "installed"])
            ),
            Command("upload", run=cmd_datasource_upload, options=(opt("files", nargs="+"),)),
            Command(
                "add",
                "a video file as a datasource of one source (no ground truth)",
                run=cmd_datasource_add,
                options=(
                    opt("--file", required=True, help="the video (any format FFmpeg decodes)"),
                    opt("--name", help="id of the datasource, its source and dataset (default: from the file name)"),
                    opt("--mode", choices=["http", "rtsp"], default="http", help="how the datasource serves it"),
                    opt("--description", help="what the video shows"),
                ),
            ),
            Command("delete", run=show("DELETE", "/api/datasources/{id}", Deleted), options=(opt("id"),)),
        ),
    ),
    Command(
        "install",
        "install a policy, a datasource and DAGs (waits, showing progress)",
        run=cmd_install,
        options=(
            opt("--datasource", required=True),
            opt("--policy"),
            opt("--dag", help="DAG for every source not given by --source"),
            opt("--source", action="append", help="SOURCE:DAG[:node1,node2] (repeatable)"),
            opt("--trace", help="bandwidth trace of every link to the cloud: a name in template/traces/ or a CSV"),
            opt("--trace-mode", choices=["loop", "hold"], default="loop", help="at the trace's end"),
            opt("--timeout", type=float, default=300),
            opt("--no-wait", action="store_true"),
        ),
    ),
    Command("uninstall", run=show("POST", "/api/uninstall", InstallState)),
    Command("open", "open the datasource", run=show("POST", "/api/query/open", QueryState)),
    Command("close", "close the datasource", run=show("POST", "/api/query/close", QueryState)),
    Command(
        "results",
        "results of a source",
        run=cmd_results,
        options=(
            opt("source"),
            opt("--after", type=int, default=None, help="records after this seq (default: the latest)"),
            opt("--limit", type=int, default=20, help="records per request (default 20)"),
            opt("--follow", "-f", action="store_true", help="keep polling for new results"),
            opt("--count", type=int, default=0, help="with --follow: stop after this many records"),
            opt("--duration", type=float, default=0, help="with --follow: stop after this many seconds"),
        ),
    ),
    Command(
        "export",
        "results (gzip JSON Lines) or system snapshots",
        run=cmd_export,
        options=(opt("--source"), opt("--system", action="store_true"), opt("-o", "--output", required=True)),
    ),
    Command(
        "quickstart",
        "install the default DAG on the default datasource and open it",
        run=cmd_quickstart,
        options=(opt("--dag"), opt("--timeout", type=float, default=300)),
    ),
    Command(
        "render",
        "write an install's Kubernetes manifests (no cluster or backend needed)",
        offline=run_render,
        parser={"description": RENDER_DESCRIPTION},
        options=(
            opt(
                "--mode", choices=["sedna", "runtime-service", "native"], help="default: the template's kubernetes.mode"
            ),
            opt("--network", choices=["service", "host"], help="default: the template's kubernetes.network"),
            opt("--template", default="template", help="template directory (default: template)"),
            opt("--nodes", help="`kubectl get nodes -o yaml` output, or {name: {role, arch, labels}}"),
            opt("--token", help="the API token for the Secret (default: a new random one)"),
            opt("--out", help="directory for 00-crd.yaml, 10-control-plane.yaml, 20-runtime.yaml"),
        ),
    ),
    Command(
        "analyze",
        "the policy benchmark's summary of a results export (no backend needed)",
        offline=run_analyze,
        parser={"description": ANALYZE_DESCRIPTION, "formatter_class": argparse.RawDescriptionHelpFormatter},
        options=(
            opt("export", type=Path, help="a results export (dayuctl export -o FILE; gzip or plain JSON Lines)"),
            opt("--slo-ms", type=float, default=1000.0, help="delay a task should meet (default 1000)"),
            opt(
                "--accuracy-reference",
                choices=["ground_truth", "golden"],
                default="ground_truth",
                help="what the records' accuracy was scored against (the datasource's; default ground_truth)",
            ),
            # Also after the command (``dayuctl analyze FILE --json``), without overriding ``dayuctl --json analyze``.
            opt("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"),
        ),
    ),
    Command(
        "profile",
        "measure model ms per frame per (service, node, resolution)",
        offline=run_profile,
        options=(
            opt("--template", default="template"),
            opt("--out", default=".dayu/profiles/latency.json", help="table file to write"),
            opt("--services", help="comma-separated service ids (default: every frame-input service)"),
            opt("--video", help="video to take frames from (default: the seeded synthetic clip)"),
        ),
    ),
    Command(
        "bench-policies",
        "compare policies on link traces and clips (any video file)",
        offline=run_bench,
        more_options=bench_arguments,
    ),
)


def _add(sub: Any, commands: Sequence[Command]) -> None:
    for command in commands:
        settings = dict(command.parser)
        if command.help is not None:
            settings["help"] = command.help
        parser: argparse.ArgumentParser = sub.add_parser(command.name, **settings)
        for option in command.options:
            parser.add_argument(*option.flags, **option.settings)
        if command.more_options is not None:
            command.more_options(parser)
        if command.subcommands:
            _add(parser.add_subparsers(dest=command.dest, required=True), command.subcommands)
        elif command.offline is not None:
            parser.set_defaults(offline=command.offline)
        else:
            parser.set_defaults(run=command.run)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dayuctl", description="Dayu control plane CLI")
    for option in GLOBAL_OPTIONS:
        p.add_argument(*option.flags, **option.settings)
    _add(p.add_subparsers(dest="command", required=True), COMMANDS)
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
