"""A throwaway copy of the project's template for a test's own platform: its backend and datasource on ports
picked free, so tests and a platform already running on this machine never share one."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.servers import free_port

REPO = Path(__file__).resolve().parents[1]


def template_copy(dst: Path, edit: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Copy the template to ``dst`` with free backend and datasource ports; ``edit`` may change the rest of
    ``base.yaml`` first. Returns ``dst``."""
    shutil.copytree(REPO / "template", dst)
    base = yaml.safe_load((dst / "base.yaml").read_text())
    base["backend"]["port"], base["datasource"]["port"] = free_port(), free_port()
    if edit is not None:
        edit(base)
    (dst / "base.yaml").write_text(yaml.safe_dump(base))
    return dst
