"""Segment files kept for display, bounded by count (the oldest are removed first)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections import OrderedDict
from pathlib import Path

from starlette.datastructures import UploadFile

from common.wire import safe_path, save_upload


class SegmentFiles:
    def __init__(self, directory: Path, *, keep: int, max_bytes: int) -> None:
        self.directory = directory
        self.keep = keep
        self.max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True)
        existing = sorted(
            (p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")),
            key=lambda p: p.stat().st_mtime,
        )
        self._names: OrderedDict[str, None] = OrderedDict((p.name, None) for p in existing)
        self._prune()

    def __len__(self) -> int:
        return len(self._names)

    async def store(self, upload: UploadFile, name: str) -> Path:
        path = await save_upload(upload, self.directory, name, max_bytes=self.max_bytes)
        self._names.pop(name, None)
        self._names[name] = None
        self._prune()
        return path

    def adopt(self, source: Path, name: str) -> Path | None:
        """Keep a segment that already lies on this node (sent by reference) under ``name``.

        A hard link costs no copy and survives the controller's TTL cleanup of the original; across
        file systems it falls back to a copy. Returns None when the source is gone.
        """
        target = safe_path(self.directory, name)
        if target.exists():
            return target
        tmp = self.directory / f".adopt-{name}"
        try:
            try:
                os.link(source, tmp)
            except OSError:
                shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        except FileNotFoundError:
            return None
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        self._names.pop(name, None)
        self._names[name] = None
        self._prune()
        return target

    def _prune(self) -> None:
        while len(self._names) > self.keep:
            oldest, _ = self._names.popitem(last=False)
            with contextlib.suppress(FileNotFoundError):
                (self.directory / oldest).unlink()

    def path(self, name: str) -> Path:
        return safe_path(self.directory, name)
