"""The generator's task ledger: the next task id and the tasks made but not yet handed over, on disk.

A generator killed and started again (the local runtime restarts it) goes on with the next id instead of
reusing ids from 0, and each task it had made but not yet handed to its controller becomes a drop record
("the generator stopped") instead of disappearing. It lives next to the outbox's spool in the work dir
(a sub-directory: the controller's segment cleanup only removes plain files at the top).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from common.private import write_private
from common.task import new_uuid

log = logging.getLogger(__name__)


class TaskLedger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.next_task_id = 0
        self.pending: set[int] = set()
        self.unfinished: list[int] = []
        """Tasks a previous process made but never handed over (read at load)."""
        self.uuids: dict[int, str] = {}
        """The task uuid of every pending or unfinished id: a task handed over just before a crash, whose
        hand-over was never written here, gets its drop record under the same uuid, and the distributor keeps
        only the first record of a uuid, so the task is counted once (its result, if that came first)."""

    def load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
            self.next_task_id = int(data["next_task_id"])
            self.unfinished = sorted(int(i) for i in data.get("pending", []))
            self.uuids = {int(i): str(u) for i, u in data.get("uuids", {}).items() if int(i) in self.unfinished}
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("task ledger %s unreadable (%s): task ids start again from 0", self.path, exc)

    def take(self) -> int:
        """The next task id, recorded as made-but-not-handed-over before anyone sees it."""
        task_id = self.next_task_id
        self.next_task_id += 1
        self.pending.add(task_id)
        self.uuids[task_id] = new_uuid()
        self._save()
        return task_id

    def uuid_of(self, task_id: int) -> str:
        """The uuid the task with ``task_id`` carries (a new one for an id this ledger never gave out)."""
        return self.uuids.setdefault(task_id, new_uuid())

    def done(self, task_id: int) -> None:
        """The task is the controller's now, or its drop record is written."""
        self.pending.discard(task_id)
        self.uuids.pop(task_id, None)
        self._save()

    def forget_unfinished(self) -> None:
        for task_id in self.unfinished:
            self.uuids.pop(task_id, None)
        self.unfinished = []
        self._save()

    def _save(self) -> None:
        pending = sorted(self.pending | set(self.unfinished))
        uuids = {str(i): self.uuids[i] for i in pending if i in self.uuids}
        body = json.dumps({"next_task_id": self.next_task_id, "pending": pending, "uuids": uuids})
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(body)
            os.replace(tmp, self.path)
        except OSError as exc:  # a full disk must not stop the data path; ids stay right in memory
            log.warning("task ledger %s not written: %s", self.path, exc)


class OpenMarker:
    """Whether the source was open, and with which parameters, kept on disk while it is open.

    Written when an opening succeeds and removed when the source is closed, also by a clean stop; so it
    survives only a crash. A generator killed while reading and started again by the runtime's supervisor
    opens its source again by itself, without waiting for the backend (which may be the one that is down).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, params: dict[str, object]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_private(self.path, json.dumps({"params": params}))
        except (OSError, TypeError, ValueError) as exc:
            log.warning("open marker %s not written: %s", self.path, exc)

    def clear(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("open marker %s not removed: %s", self.path, exc)

    def read(self) -> dict[str, object] | None:
        """The parameters of the opening a crash interrupted, or None when the source was closed."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("open marker %s unreadable (%s): the source stays closed", self.path, exc)
            return None
        params = data.get("params") if isinstance(data, dict) else None
        return params if isinstance(params, dict) else {}
