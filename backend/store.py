"""The backend's durable state in SQLite: DAGs, datasource configs, visualization configs, install state.

Writes are small and rare, so one connection guarded by a lock is enough; a restart reads everything back.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common.errors import Conflict, NotFound
from common.private import private_dir, private_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS dags (
    name TEXT PRIMARY KEY, spec TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS datasources (
    id TEXT PRIMARY KEY, file_name TEXT NOT NULL, text TEXT NOT NULL, config TEXT NOT NULL, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS visualizations (
    source_id TEXT PRIMARY KEY, text TEXT NOT NULL, views TEXT NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS system_snapshots (seq INTEGER PRIMARY KEY AUTOINCREMENT, snapshot TEXT NOT NULL);
"""


class Store:
    def __init__(self, path: Path) -> None:
        private_dir(path.parent)
        private_file(path)  # SQLite gives its -wal and -shm files the database file's mode
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db.execute(sql, args).fetchall())

    # -- DAGs ---------------------------------------------------------------------------------
    def list_dags(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT name, spec, created, updated FROM dags ORDER BY name")
        return [{"name": n, "spec": json.loads(s), "created": c, "updated": u} for n, s, c, u in rows]

    def get_dag(self, name: str) -> dict[str, Any]:
        rows = self._query("SELECT spec FROM dags WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"no DAG named {name!r}", detail={"dag": name})
        spec: dict[str, Any] = json.loads(rows[0][0])
        return spec

    def create_dag(self, name: str, spec: dict[str, Any]) -> None:
        now = time.time()
        with self._tx() as db:
            if db.execute("SELECT 1 FROM dags WHERE name = ?", (name,)).fetchone():
                raise Conflict(f"a DAG named {name!r} exists already", detail={"dag": name})
            db.execute("INSERT INTO dags VALUES (?, ?, ?, ?)", (name, json.dumps(spec), now, now))

    def update_dag(self, name: str, spec: dict[str, Any]) -> None:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE dags SET spec = ?, updated = ? WHERE name = ?", (json.dumps(spec), time.time(), name)
            )
            if cur.rowcount == 0:
                raise NotFound(f"no DAG named {name!r}", detail={"dag": name})

    def delete_dag(self, name: str) -> None:
        with self._tx() as db:
            if db.execute("DELETE FROM dags WHERE name = ?", (name,)).rowcount == 0:
                raise NotFound(f"no DAG named {name!r}", detail={"dag": name})

    # -- datasource configs --------------------------------------------------------------------
    def list_datasources(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT id, file_name, config, created FROM datasources ORDER BY created, id")
        return [{"id": i, "file_name": f, "config": json.loads(c), "created": t} for i, f, c, t in rows]

    def get_datasource(self, ident: str) -> dict[str, Any]:
        rows = self._query("SELECT id, file_name, config, created FROM datasources WHERE id = ?", (ident,))
        if not rows:
            raise NotFound(f"no datasource config {ident!r}", detail={"datasource": ident})
        i, f, c, t = rows[0]
        return {"id": i, "file_name": f, "config": json.loads(c), "created": t}

    def add_datasource(self, ident: str, file_name: str, text: str, config: dict[str, Any]) -> None:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM datasources WHERE id = ?", (ident,)).fetchone():
                raise Conflict(f"a datasource config named {ident!r} exists already", detail={"datasource": ident})
            db.execute(
                "INSERT INTO datasources VALUES (?, ?, ?, ?, ?)",
                (ident, file_name, text, json.dumps(config), time.time()),
            )

    def delete_datasource(self, ident: str) -> None:
        with self._tx() as db:
            if db.execute("DELETE FROM datasources WHERE id = ?", (ident,)).rowcount == 0:
                raise NotFound(f"no datasource config {ident!r}", detail={"datasource": ident})

    # -- visualization configs -----------------------------------------------------------------
    def get_views(self, source_id: str) -> list[dict[str, Any]] | None:
        rows = self._query("SELECT views FROM visualizations WHERE source_id = ?", (source_id,))
        return json.loads(rows[0][0]) if rows else None

    def set_views(self, source_id: str, text: str, views: list[dict[str, Any]]) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO visualizations VALUES (?, ?, ?, ?) ON CONFLICT(source_id) DO UPDATE SET "
                "text = excluded.text, views = excluded.views, updated = excluded.updated",
                (source_id, text, json.dumps(views), time.time()),
            )

    def delete_views(self, source_id: str) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM visualizations WHERE source_id = ?", (source_id,)).rowcount > 0

    # -- system history --------------------------------------------------------------------------
    def add_snapshot(self, snapshot: dict[str, Any], keep: int) -> None:
        """Append one system snapshot, keeping the newest ``keep``."""
        with self._tx() as db:
            cursor = db.execute("INSERT INTO system_snapshots (snapshot) VALUES (?)", (json.dumps(snapshot),))
            db.execute("DELETE FROM system_snapshots WHERE seq <= ?", ((cursor.lastrowid or 0) - keep,))

    def snapshots(self, keep: int) -> list[dict[str, Any]]:
        """The newest ``keep`` snapshots, oldest first."""
        rows = self._query("SELECT snapshot FROM system_snapshots ORDER BY seq DESC LIMIT ?", (keep,))
        return [json.loads(row[0]) for row in reversed(rows)]

    # -- singletons (install state, query state) -------------------------------------------------
    def get_state(self, key: str) -> Any:
        rows = self._query("SELECT value FROM state WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def set_state(self, key: str, value: Any) -> None:
        with self._tx() as db:
            if value is None:
                db.execute("DELETE FROM state WHERE key = ?", (key,))
            else:
                db.execute(
                    "INSERT INTO state VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, json.dumps(value)),
                )
