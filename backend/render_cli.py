"""``dayuctl render``: an install's Kubernetes manifests written without a cluster, to review them or to apply
them with your own tools (``kubectl apply --server-side -f DIR``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from common.errors import DayuError

RENDER_DESCRIPTION = (
    "The CRD (sedna and runtime-service modes), the control plane `dayu.sh start` applies and "
    "the workloads of the template's default install, as multi-document YAML: one file per step in --out, "
    "else on stdout."
)
"""``dayuctl render --help``'s description (its options are declared with every command's, in backend/cli.py)."""


def run_render(args: argparse.Namespace) -> int:
    from backend.deploy.offline import render_install
    from backend.templates import load_template

    try:
        template = load_template(Path(args.template))
        nodes = yaml.safe_load(Path(args.nodes).read_text()) if args.nodes else None
        mode = args.mode or template.base.kubernetes.mode
        report: list[str] = []
        files = render_install(template, mode, nodes_data=nodes, network=args.network, token=args.token, report=report)
    except DayuError as exc:
        print(f"dayuctl: {exc.message}", file=sys.stderr)
        return 1
    except (OSError, yaml.YAMLError) as exc:
        print(f"dayuctl: {exc}", file=sys.stderr)
        return 1
    for line in report:
        print(f"dayuctl: {line}", file=sys.stderr)
    if not args.out:
        for objs in files.values():
            sys.stdout.write(yaml.safe_dump_all(objs, sort_keys=False))
            sys.stdout.write("---\n")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, objs in files.items():
        (out / name).write_text(yaml.safe_dump_all(objs, sort_keys=False))
    print(
        f"dayuctl: wrote {', '.join(files)} to {out} ({sum(len(o) for o in files.values())} objects)", file=sys.stderr
    )
    return 0
