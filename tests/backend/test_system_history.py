"""System history survives a restart of the backend (kept in its SQLite store, bounded)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from backend.contracts.views import SystemSnapshot
from backend.snapshot_ring import SnapshotRing
from backend.store import Store
from tests.backend.conftest import RunningBackend

pytestmark = pytest.mark.integration


def test_store_keeps_the_newest_snapshots(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    for i in range(5):
        store.add_snapshot({"at": float(i)}, keep=3)
    store.close()
    again = Store(tmp_path / "db.sqlite3")
    try:
        assert [s["at"] for s in again.snapshots(3)] == [2.0, 3.0, 4.0]
    finally:
        again.close()


def snapshot(at: float) -> SystemSnapshot:
    return SystemSnapshot(
        at=at, cpu={"edge1": 0.25}, memory={"edge1": None}, bandwidth={}, queue_length={"edge1": {"face": 2}}
    )


def test_the_ring_keeps_the_newest_and_gives_back_what_it_was_given() -> None:
    ring = SnapshotRing(3, [snapshot(1.0), snapshot(2.0)])
    for at in (3.0, 4.0, 5.0):
        ring.append(snapshot(at))
    assert len(ring) == ring.keep == 3
    assert ring.after(0.0) == [snapshot(3.0), snapshot(4.0), snapshot(5.0)]
    assert ring.after(4.0) == [snapshot(5.0)] and ring.after(5.0) == []
    lines = ring.json_lines().decode().splitlines()
    assert [SystemSnapshot.model_validate_json(line) for line in lines] == ring.after(0.0)


def test_history_and_export_survive_a_restart(tmp_path: Path, template_dir: Path) -> None:
    state = tmp_path / "state"
    with RunningBackend(state, template_dir) as first:
        assert first.client().get("/api/system/history").json() == {"snapshots": []}
    # Snapshots the previous run sampled (sampling needs an install: see tests/backend/test_flow.py).
    store = Store(state / "backend.sqlite3")
    for at, cpu in ((100.0, 0.5), (101.0, 0.6)):
        snapshot = {"at": at, "cpu": {"edge1": cpu}, "memory": {}, "bandwidth": {}, "queue_length": {}}
        store.add_snapshot(snapshot, keep=10)
    store.close()
    with RunningBackend(state, template_dir) as second:
        c = second.client()
        assert [s["at"] for s in c.get("/api/system/history").json()["snapshots"]] == [100.0, 101.0]
        exported = c.get("/api/export/system")
        rows = [json.loads(line) for line in gzip.decompress(exported.content).decode().splitlines()]
        assert [r["cpu"]["edge1"] for r in rows] == [0.5, 0.6]
        assert exported.headers["content-disposition"].startswith('attachment; filename="dayu-system-')
