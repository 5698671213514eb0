"""Every file holding the platform token is private to its owner: the local runtime's run directory and
runtime.json, the backend's SQLite database with its WAL and shared-memory files, the token files.

The umask is opened wide for these tests, so a mode that is right proves the code set it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.launcher import ensure_token
from backend.local_runtime.runtime import LocalRuntime
from backend.store import Store
from common.private import private_dir, write_private
from common.workload import Workload

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_local_runtime_keeps_its_run_directory_and_runtime_file_private(tmp_path: Path) -> None:
    run = tmp_path / "dayu" / "run"
    rt = LocalRuntime(run)
    nodes = {"cloud": {"role": "cloud"}}
    rt.start(
        nodes, [], [Workload(name="controller-cloud", component="controller", node="cloud")], timeout=30, token="t"
    )
    try:
        assert "t" in (run / "runtime.json").read_text()
        assert mode(run) == 0o700 and mode(run / "runtime.json") == 0o600
        for config in (run / "config").glob("*.json"):
            assert mode(config) == 0o600, config
    finally:
        rt.stop(timeout=10)


def test_the_backend_database_and_its_wal_are_private(tmp_path: Path) -> None:
    store = Store(tmp_path / "state" / "backend.sqlite3")
    try:
        store.set_state("install", {"token": "secret"})
        files = sorted((tmp_path / "state").glob("backend.sqlite3*"))
        assert {f.name for f in files} >= {"backend.sqlite3", "backend.sqlite3-wal", "backend.sqlite3-shm"}
        for f in files:
            assert mode(f) == 0o600, f
        assert mode(tmp_path / "state") == 0o700
    finally:
        store.close()


def test_an_existing_world_readable_database_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "backend.sqlite3"
    path.touch(mode=0o644)
    Store(path).close()
    assert mode(path) == 0o600


def test_token_files_and_helpers(tmp_path: Path) -> None:
    token = ensure_token(tmp_path / ".dayu")
    assert mode(tmp_path / ".dayu") == 0o700 and mode(tmp_path / ".dayu" / "token") == 0o600
    assert ensure_token(tmp_path / ".dayu") == token
    target = private_dir(tmp_path / "a" / "b")
    assert mode(target) == 0o700 and mode(tmp_path / "a") == 0o700
    write_private(target / "f", "x")
    assert mode(target / "f") == 0o600 and (target / "f").read_text() == "x"
    assert [p.name for p in target.iterdir()] == ["f"]  # no temp file left
