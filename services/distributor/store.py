"""Durable storage of results and drop records: SQLite in WAL mode, idempotent per task copy.

Every record gets an increasing ``seq`` so readers can page incrementally. One connection is shared
behind a lock; callers run these blocking methods in a worker thread.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common.contracts.distributor import ResultRecord, SourceStats
from common.records import DropRecord
from common.task import Task

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    source_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    task_uuid TEXT NOT NULL,
    root_uuid TEXT NOT NULL,
    reason TEXT,
    latency REAL,
    wall_latency REAL,
    stored_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_source ON records (source_id, seq);
"""
COLUMNS = "seq, kind, source_id, task_id, task_uuid, root_uuid, reason, latency, wall_latency, stored_at, body"


def _row_to_record(row: tuple[Any, ...]) -> ResultRecord:
    seq, kind, source_id, task_id, task_uuid, root_uuid, reason, latency, wall, stored_at, body = row
    drop = DropRecord.model_validate_json(body) if kind == "drop" else None
    return ResultRecord(
        seq=seq,
        kind=kind,
        source_id=source_id,
        task_id=task_id,
        task_uuid=task_uuid,
        root_uuid=root_uuid,
        latency=latency,
        wall_latency=wall,
        stored_at=stored_at,
        reason=reason if drop is not None else None,
        drop=drop,
        task=Task.model_validate_json(body) if drop is None else None,
    )


class ResultStore:
    def __init__(self, path: Path, *, max_records: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.max_records = max_records
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _insert(self, values: tuple[Any, ...]) -> int | None:
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO records (key, kind, source_id, task_id, task_uuid, root_uuid, reason,"
                " latency, wall_latency, stored_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            if cursor.rowcount == 0:
                return None  # this copy was stored before: a retried delivery
            seq = int(cursor.lastrowid or 0)
            self._db.execute("DELETE FROM records WHERE seq <= ?", (seq - self.max_records,))
            return seq

    def add_result(self, task: Task, latency: float | None, wall_latency: float | None) -> int | None:
        """Store a finished task; None when this copy is already stored."""
        return self._insert(
            (
                task.key(),
                "result",
                task.source_id,
                task.task_id,
                task.task_uuid,
                task.root_uuid,
                None,
                latency,
                wall_latency,
                time.time(),
                task.model_dump_json(),
            )
        )

    def add_drop(self, record: DropRecord) -> int | None:
        """Store a drop record; None when this copy is already stored."""
        return self._insert(
            (
                f"{record.source_id}/{record.task_uuid}",
                "drop",
                record.source_id,
                record.task_id,
                record.task_uuid,
                record.root_uuid,
                record.reason.value,
                None,
                None,
                time.time(),
                record.model_dump_json(),
            )
        )

    def page(self, after: int, limit: int, source_id: str | None = None) -> list[ResultRecord]:
        query = f"SELECT {COLUMNS} FROM records WHERE seq > ?"
        args: list[Any] = [after]
        if source_id is not None:
            query += " AND source_id = ?"
            args.append(source_id)
        query += " ORDER BY seq LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [_row_to_record(row) for row in rows]

    def tail(self, limit: int, source_id: str | None = None) -> list[ResultRecord]:
        """The latest ``limit`` records, oldest first."""
        query = f"SELECT {COLUMNS} FROM records"
        args: list[Any] = []
        if source_id is not None:
            query += " WHERE source_id = ?"
            args.append(source_id)
        query += " ORDER BY seq DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [_row_to_record(row) for row in reversed(rows)]

    def pages(self, source_id: str | None, page_size: int) -> Iterator[list[ResultRecord]]:
        """Every record in pages, so an export never holds more than one page."""
        after = 0
        while True:
            page = self.page(after, page_size, source_id)
            if not page:
                return
            yield page
            after = page[-1].seq

    def stats(self, source_id: str | None = None) -> dict[str, SourceStats]:
        """Records per source (only ``source_id``'s when given: read through its index, not the whole table)."""
        query = "SELECT source_id, kind, reason, COUNT(*), AVG(latency) FROM records"
        args: tuple[str, ...] = ()
        if source_id is not None:
            query += " WHERE source_id = ?"
            args = (source_id,)
        with self._lock:
            rows = self._db.execute(query + " GROUP BY source_id, kind, reason", args).fetchall()
        sources: dict[str, SourceStats] = {}
        for source_id, kind, reason, count, mean_latency in rows:
            entry = sources.setdefault(source_id, SourceStats(results=0, drops={}, mean_latency=None))
            if kind == "result":
                entry.results = count
                entry.mean_latency = mean_latency
            else:
                entry.drops[reason] = count
        return sources
