"""The controller's in-flight journal: one small file per task copy it has taken and not yet handed on.

A controller killed while tasks are in flight (waiting for a processor, on their way to another node)
would otherwise lose them silently. Each accepted copy is written here before the 202 answer and removed
once it left this controller (forwarded, finished, dropped); a controller started again turns every
file left by its previous process into a drop record. The directory sits under the work dir's spool
directory, which the segment cleanup does not touch.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from common.task import Task

log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class InflightJournal:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._made = False

    def _path(self, task: Task) -> Path:
        return self.directory / _UNSAFE.sub("_", f"{task.task_uuid}-{task.cursor}.json")

    def add(self, task: Task) -> Path | None:
        path = self._path(task)
        try:
            if not self._made:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._made = True
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(task.to_json().encode())
            os.replace(tmp, path)
        except OSError as exc:  # a full disk must not stop routing; the task is only less protected
            self._made = False  # the directory may be gone: made again next time
            log.warning("in-flight journal %s not written: %s", path, exc)
            return None
        return path

    @staticmethod
    def remove(path: Path | None) -> None:
        if path is not None:
            path.unlink(missing_ok=True)

    def left_over(self) -> list[Task]:
        """Copies a previous process had in flight; their files are removed as they are read."""
        tasks: list[Task] = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                tasks.append(Task.from_json(path.read_bytes()))
            except (OSError, ValueError, Exception) as exc:
                log.warning("in-flight journal entry %s unreadable: %s", path, exc)
            path.unlink(missing_ok=True)
        for tmp in self.directory.glob("*.tmp"):
            tmp.unlink(missing_ok=True)
        return tasks
