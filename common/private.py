"""Files and directories only their owner may read: anything holding the platform token.

Modes are set at creation (no window in which a file exists with the default umask's mode) and
enforced again on existing paths, which an older version may have created world-readable.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as owner-only; make an existing one owner-only."""
    old = os.umask(0o077)
    try:
        path.mkdir(parents=True, exist_ok=True)
    finally:
        os.umask(old)
    path.chmod(DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Make sure ``path`` exists as an owner-only file (e.g. before SQLite opens it: its journal, WAL and
    shared-memory files take the database file's mode)."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def write_private(path: Path, text: str) -> Path:
    """Replace ``path`` atomically with ``text``, owner-only from its first byte."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp creates files 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
