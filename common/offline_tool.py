"""The command line every component's offline tool shares: ``<command> --request FILE --out FILE``.

A tool (``python -m services.<component>.offline``) names its commands, each with the request model it reads
and the function that answers it (:mod:`common.contracts.offline`). The request is read from a JSON file,
the reply written as JSON; a request outside its model, or one the function refuses (a ``DayuError``),
exits 2 with the reason on stderr and writes nothing, which ``backend.offline`` turns into the caller's error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from common.errors import DayuError

OfflineCommand = tuple[type[BaseModel], Callable[[Any], BaseModel]]
"""A command's request model and the function that turns such a request into its reply."""


def run_offline_tool(
    prog: str, description: str, commands: Mapping[str, OfflineCommand], argv: Sequence[str] | None = None
) -> int:
    """Parse ``argv``, answer the one request, and return the exit status (0, or 2 when refused)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("command", choices=sorted(commands))
    parser.add_argument("--request", required=True, type=Path, help="the request (JSON)")
    parser.add_argument("--out", required=True, type=Path, help="where the reply (JSON) goes")
    args = parser.parse_args(argv)
    model, run = commands[args.command]
    try:
        request = model.model_validate_json(args.request.read_bytes())
        reply = run(request)
    except ValidationError as exc:
        print(f"not a {model.__name__}: {str(exc)[:500]}", file=sys.stderr)
        return 2
    except DayuError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    args.out.write_text(reply.model_dump_json(by_alias=True), encoding="utf-8")
    return 0
