"""``dayuctl`` commands that run on this machine without a backend: ``profile`` and ``bench-policies``.

Their options are declared with every command's in :mod:`backend.cli`; ``bench-policies`` takes those of
its own entry point (``python -m backend.benchpolicies``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def bench_arguments(parser: argparse.ArgumentParser) -> None:
    from backend.benchpolicies.main import add_arguments

    add_arguments(parser)


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


@_guarded
def run_profile(args: argparse.Namespace) -> None:
    from backend.profiler import cmd_profile

    cmd_profile(args)


@_guarded
def run_bench(args: argparse.Namespace) -> int:
    from backend.benchpolicies.main import run_guarded, settings_of

    return run_guarded(settings_of(args))
