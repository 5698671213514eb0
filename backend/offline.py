"""A runtime component's offline tool run as a process, one request and one reply.

The control plane imports no runtime component (``hack/layers.py``): where one of its tools needs a model's
figures or an agent's grid, it runs the component's own ``python -m services.<component>.offline`` with a
request of :mod:`common.contracts.offline` and parses the reply into the contract's model.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from common.contracts.base import Contract
from common.errors import ConfigError, Unavailable

ROOT = Path(__file__).resolve().parents[1]
PROCESSOR = "services.processor.offline"
SCHEDULER = "services.scheduler.offline"

R = TypeVar("R", bound=Contract)
TOOL_TIMEOUT_S = 6 * 3600.0
"""Far beyond a whole clip's golden labels on a CPU; a tool stuck longer is ended, not waited for forever."""


def run_tool(module: str, command: str, request: Contract, reply: type[R], *, timeout_s: float = TOOL_TIMEOUT_S) -> R:
    """Run ``python -m module command`` on ``request``; its reply, or ConfigError with the tool's reason
    (Unavailable when it ran past ``timeout_s`` and was ended).

    The tool's stderr (warnings, progress) is passed on to this process's stderr."""
    with tempfile.TemporaryDirectory(prefix="dayu-offline-") as tmp:
        request_path, reply_path = Path(tmp) / "request.json", Path(tmp) / "reply.json"
        request_path.write_text(request.model_dump_json(by_alias=True), encoding="utf-8")
        args = [sys.executable, "-m", module, command, "--request", str(request_path), "--out", str(reply_path)]
        try:
            done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise Unavailable(f"{module} {command} ran past {timeout_s:.0f} s and was ended") from None
        if done.stderr:
            sys.stderr.write(done.stderr)
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            reason = lines[-1] if lines else f"exit status {done.returncode}"
            raise ConfigError(reason if done.returncode == 2 else f"{module} {command} failed: {reason}")
        try:
            return reply.model_validate_json(reply_path.read_bytes())
        except (OSError, ValidationError) as exc:
            raise ConfigError(f"{module} {command} wrote no {reply.__name__}: {str(exc)[:300]}") from None
