"""What every benchmark run records about where it ran: the commit, the exact command, the machine's load."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def commit() -> dict[str, Any]:
    """The checkout's commit and whether its tracked files differ from it (None where git cannot tell)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": head, "dirty": bool(changed)}


def command() -> str:
    """The command line as it was typed to start this process (interpreter and flags included)."""
    return shlex.join(getattr(sys, "orig_argv", sys.argv))


def load() -> dict[str, Any]:
    """The machine's load averages (1, 5, 15 min) and the time they were read."""
    one, five, fifteen = os.getloadavg()
    return {"at": time.time(), "load_1m": one, "load_5m": five, "load_15m": fifteen, "cpus": os.cpu_count()}


def record() -> dict[str, Any]:
    return {**commit(), "command": command(), "started_at": time.time()}
