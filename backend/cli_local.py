"""``dayuctl`` commands that run on this machine without a backend: ``profile`` and ``bench-policies``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any


def add_local_commands(sub: Any) -> None:
    profile = sub.add_parser("profile", help="measure model ms per frame per (service, node, resolution)")
    profile.add_argument("--template", default="template")
    profile.add_argument("--out", default=".dayu/profiles/latency.json", help="table file to write")
    profile.add_argument("--services", help="comma-separated service ids (default: every frame-input service)")
    profile.add_argument("--video", help="video to take frames from (default: the seeded synthetic clip)")
    profile.set_defaults(offline=_guarded(_profile))

    from backend.benchpolicies.main import add_arguments

    bench = sub.add_parser("bench-policies", help="compare policies on link traces and clips (any video file)")
    add_arguments(bench)
    bench.set_defaults(offline=_guarded(_bench))


def _profile(args: argparse.Namespace) -> None:
    from backend.profiler import cmd_profile

    cmd_profile(args)


def _bench(args: argparse.Namespace) -> int:
    from backend.benchpolicies.main import run_guarded, settings_of

    return run_guarded(settings_of(args))


def _guarded(command: Callable[[argparse.Namespace], int | None]) -> Callable[[argparse.Namespace], int]:
    """The command as an exit status: its own (0 when it returns None), or 1 with one line for an error the
    project raises."""

    def run(args: argparse.Namespace) -> int:
        from common.errors import DayuError

        try:
            code = command(args)
        except DayuError as exc:
            print(f"dayuctl: {exc}", file=sys.stderr)
            return 1
        return code or 0

    return run
