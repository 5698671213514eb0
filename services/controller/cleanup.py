"""Removal of old segment files from a node's work directory."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)


def remove_old_files(directory: Path, ttl_s: float, *, now: float | None = None) -> int:
    """Delete plain files in ``directory`` not modified for ``ttl_s`` seconds; returns how many went."""
    cutoff = (time.time() if now is None else now) - ttl_s
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:
            continue  # another component removed it first
    if removed:
        log.info("removed %d segment file(s) older than %gs from %s", removed, ttl_s, directory)
    return removed
