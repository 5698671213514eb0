"""``python -m backend.local_runtime up SPEC | down | status | links | cpu``: the local runtime from a shell.

SPEC is a YAML/JSON file with ``nodes``, ``links``, ``workloads`` (and an optional ``token``), as in
:class:`backend.local_runtime.model.RuntimeSpec`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from backend.local_runtime.model import RuntimeSpec
from backend.local_runtime.runtime import LocalRuntime
from common.config import load_yaml_model
from common.errors import DayuError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.local_runtime", description=__doc__)
    parser.add_argument("--run-dir", type=Path, default=Path(".dayu/run"), help="state folder (default .dayu/run)")
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("up", help="start every workload of SPEC")
    up.add_argument("spec", type=Path)
    up.add_argument("--timeout", type=float, default=60.0, help="seconds each install stage may take")
    down = sub.add_parser("down", help="stop everything started from --run-dir")
    down.add_argument("--timeout", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL")
    sub.add_parser("status", help="what runs, and whether it is healthy")
    sub.add_parser("links", help="the link mode that ran (and why), each link's trace and current rate")
    sub.add_parser("cpu", help="each node's CPU quota and whether cgroups enforce it (and why not)")
    args = parser.parse_args(argv)

    runtime = LocalRuntime(args.run_dir)
    try:
        if args.action == "up":
            spec = load_yaml_model(args.spec, RuntimeSpec)
            topology = runtime.start_spec(spec, timeout=args.timeout)
            print(f"started {len(spec.workloads)} workload(s); topology in {runtime.topology_path}")
            print(json.dumps(topology.model.model_dump(mode="json"), indent=2))
        elif args.action == "down":
            print(json.dumps(runtime.stop(timeout=args.timeout), indent=2))
        elif args.action == "links":
            print(json.dumps(runtime.link_status(), indent=2))
        elif args.action == "cpu":
            print(json.dumps(runtime.cpu_status(), indent=2))
        else:
            print(json.dumps(runtime.status(), indent=2))
    except DayuError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
