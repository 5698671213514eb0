"""A generator started again (after a crash) goes on with its task ids and turns each task the crashed
process made but never handed over into a drop record: nothing disappears, no id is used twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.outbox import SPOOL_DIR
from services.generator.ledger import OpenMarker, TaskLedger
from tests.services.generator.test_generator import run_generator

pytestmark = pytest.mark.integration


def test_a_restarted_generator_continues_ids_and_drops_what_was_in_hand(tmp_path: Path) -> None:
    first, status = run_generator(tmp_path, refuse=False)
    made = status["tasks_created"]
    assert [t["task_id"] for t in first["tasks"]] == list(range(made))
    ledger = tmp_path / "work" / SPOOL_DIR / "generator-cam_1.ledger.json"
    assert json.loads(ledger.read_text()) == {"next_task_id": made, "pending": [], "uuids": {}}
    # As if the process had been killed while making task `made` (id taken, never handed over).
    ledger.write_text(json.dumps({"next_task_id": made + 1, "pending": [made]}))
    second, status2 = run_generator(tmp_path, refuse=False)
    ids = [t["task_id"] for t in second["tasks"]]
    assert ids == list(range(made + 1, made + 1 + status2["tasks_created"]))
    assert [(d["task_id"], d["reason"]) for d in second["drops"]] == [(made, "shutdown")]
    assert status2["next_task_id"] == made + 1 + status2["tasks_created"]


@pytest.mark.unit
def test_ledger_survives_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "l.json"
    path.write_text("{not json")
    ledger = TaskLedger(path)
    ledger.load()
    assert ledger.take() == 0
    assert json.loads(path.read_text()) == {"next_task_id": 1, "pending": [0], "uuids": {"0": ledger.uuid_of(0)}}
    ledger.done(0)
    again = TaskLedger(path)
    again.load()
    assert again.next_task_id == 1 and again.unfinished == []
    path.write_text('{"next_task_id": 3, "pending": [1], "uuids": ["not", "a", "mapping"]}')
    hostile = TaskLedger(path)
    hostile.load()  # a broken uuid map is logged, never a crash at start-up; ids already given stay given
    assert hostile.take() == 3 and hostile.unfinished == [1]


@pytest.mark.unit
def test_a_task_handed_over_just_before_a_crash_keeps_its_uuid_for_the_drop_record(tmp_path: Path) -> None:
    """The process died after the controller took task 0 but before the hand-over was written: the restarted
    generator's drop record carries the uuid the task was made with, so the distributor (one record per uuid,
    the first one kept) never counts the task twice."""
    path = tmp_path / "l.json"
    first = TaskLedger(path)
    first.load()
    made_with = first.uuid_of(first.take())
    handed_over = first.uuid_of(first.take())
    first.done(1)
    again = TaskLedger(path)
    again.load()
    assert again.unfinished == [0] and again.uuid_of(0) == made_with
    assert again.uuid_of(1) != handed_over  # only ids still pending keep theirs
    again.forget_unfinished()
    assert json.loads(path.read_text())["uuids"] == {}


@pytest.mark.unit
def test_open_marker_keeps_the_parameters_of_an_opening_until_it_is_closed(tmp_path: Path) -> None:
    marker = OpenMarker(tmp_path / "spool" / "g.open.json")
    assert marker.read() is None  # never opened: a restarted generator stays closed
    marker.set({"url": "rtsp://127.0.0.1:8554/cam"})
    assert marker.read() == {"url": "rtsp://127.0.0.1:8554/cam"}  # a crash now: opened again with these
    assert (marker.path.stat().st_mode & 0o777) == 0o600  # the parameters may name a camera's address
    marker.clear()
    assert marker.read() is None
    marker.path.write_text("{broken")
    assert marker.read() is None  # unreadable: stays closed rather than guessing
