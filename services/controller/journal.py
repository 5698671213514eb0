"""The controller's in-flight journal: every task copy it has taken and not yet handed on.

A controller killed while tasks are in flight (waiting for a processor, on their way to another node)
would otherwise lose them silently. Each accepted copy is written here before the 202 answer and crossed
out once it left this controller (forwarded, finished, dropped); a controller started again turns every
copy its previous process left uncrossed into a drop record.

One append-only file, one line per event: ``+<key> <task JSON>`` when a copy is taken, ``-<key>`` when it
left. Each line is one ``write`` on a descriptor opened with ``O_APPEND``, so a process killed at any
moment leaves whole lines in the kernel's page cache (a torn last line, from a crash of the machine, is
skipped). A small file per copy cost a create, a rename and an unlink per task, most of the journal's CPU.
The file is cut back to the copies still in flight once it passes ``compact_bytes`` and most of it is crossed
out. It sits under the work dir's spool directory, which the segment cleanup does not touch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from pathlib import Path

from common.task import Task

log = logging.getLogger(__name__)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")
LOG_NAME = "inflight.log"


class InflightJournal:
    def __init__(self, directory: Path, *, compact_bytes: int = 4 << 20) -> None:
        self.directory = directory
        self.path = directory / LOG_NAME
        self.compact_bytes = compact_bytes
        self._fd: int | None = None
        self._size = 0
        self._live: dict[str, bytes] = {}  # key -> its "+" line, for compaction
        self._live_bytes = 0

    @staticmethod
    def key(task: Task) -> str:
        return _UNSAFE.sub("_", f"{task.task_uuid}-{task.cursor}")

    def add(self, task: Task, received: bytes | None = None) -> str | None:
        """Journal the copy; its key (for :meth:`remove`), or None when it could not be written.

        ``received``: the JSON the task was just parsed from, when nothing changed it since; it is written
        as it came instead of writing the task again (a task's JSON costs as much to write as to parse,
        and this is once per task). A body holding a line break (JSON may be pretty-printed) would split
        its line: the task is written afresh then."""
        key = self.key(task)
        body = received if received is not None and b"\n" not in received else task.to_json().encode()
        line = b"+" + key.encode() + b" " + body + b"\n"
        if not self._write(line):
            return None
        self._live_bytes += len(line) - len(self._live.get(key, b""))
        self._live[key] = line
        return key

    def remove(self, key: str | None) -> None:
        """Cross the copy out: it left this controller."""
        line = self._live.pop(key, None) if key is not None else None
        if key is None or line is None:
            return
        self._live_bytes -= len(line)
        self._write(b"-" + key.encode() + b"\n")
        # Only when most of the file is crossed out: with many copies in flight, not a rewrite per task.
        if self._size >= self.compact_bytes and self._size >= 2 * self._live_bytes:
            self._compact()

    def _write(self, line: bytes) -> bool:
        try:
            if self._fd is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
                self._size = os.fstat(self._fd).st_size
            written = os.write(self._fd, line)
        except OSError as exc:  # a full disk must not stop routing; the task is only less protected
            log.warning("in-flight journal %s not written: %s", self.path, exc)
            self._close()  # the directory may be gone: opened again next time
            return False
        self._size += written
        return written == len(line)

    def _compact(self) -> None:
        """Rewrite the file with only the copies still in flight (a temporary file renamed over it)."""
        tmp = self.path.with_suffix(".tmp")
        try:
            tmp.write_bytes(b"".join(self._live.values()))
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("in-flight journal %s not compacted: %s", self.path, exc)
            return
        self._close()  # the next write opens the new file

    def _close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        self._close()

    def left_over(self) -> list[Task]:
        """Copies a previous process had in flight and never crossed out; the journal starts empty after.
        Called once, before this process takes any task."""
        live: dict[str, bytes] = {}
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        except OSError as exc:
            log.warning("in-flight journal %s unreadable: %s", self.path, exc)
            data = b""
        for line in data.split(b"\n")[:-1]:  # the last piece is empty, or a torn line: skipped
            if line.startswith(b"+"):
                raw_key, _, body = line[1:].partition(b" ")
                live[raw_key.decode(errors="replace")] = body
            elif line.startswith(b"-"):
                live.pop(line[1:].decode(errors="replace"), None)
        # A version before the append-only file kept one <key>.json file per copy: read those too.
        old_files = sorted(self.directory.glob("*.json")) if self.directory.is_dir() else []
        for path in old_files:
            try:
                live[path.stem] = path.read_bytes()
            except OSError as exc:
                log.warning("in-flight journal entry %s unreadable: %s", path, exc)
        tasks: list[Task] = []
        for key, body in live.items():
            try:
                tasks.append(Task.from_json(body))
            except Exception as exc:  # a damaged entry must not stop the controller from starting
                log.warning("in-flight journal entry %s unreadable: %s", key, exc)
        stale = sorted(self.directory.glob("*.tmp")) if self.directory.is_dir() else []
        for path in [self.path, *old_files, *stale]:
            path.unlink(missing_ok=True)
        return tasks
