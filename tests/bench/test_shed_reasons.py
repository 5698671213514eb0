"""The scale section's split of the shed records by admission reason, on records as the distributor pages them:
real reasons from the controller's admission (an injected clock decides the intervals), turned into shed
messages by a source's admission, stored as drop records in a real distributor store (SQLite) and read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from common.records import DropReason, DropRecord
from common.task import Task
from services.controller.admission import Admission, AdmissionConfig
from services.distributor.store import ResultStore
from services.generator.admission import SourceAdmission
from tests.bench.streams import shed_by_reason
from tests.services.controller.test_controller import make_task

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _task(task_id: int) -> Task:
    return make_task({"stages": [{"name": "face", "service": "svc-a"}]}, task_id, nodes={"_start": "edge1"})


def test_shed_records_are_counted_by_the_node_and_codes_of_the_reason_they_quote(tmp_path: Path) -> None:
    clock = Clock()
    edge = Admission(AdmissionConfig(interval_s=1.0, queue_target_s=0.5, increase=0.1), "edge1", clock)
    source = SourceAdmission(enabled=True, stale_after_s=60.0, clock=clock)
    messages: list[str] = []
    expected: dict[str, int] = {}

    def shed(admit_reason: tuple[float, str], segments: int, key: str) -> None:
        """The source hears ``admit_reason`` and starts ``segments`` segments; those it sheds count for ``key``."""
        source.heard(*admit_reason)
        got = [m for m in (source.shed_next() for _ in range(segments)) if m is not None]
        assert got, admit_reason  # each phase sheds some, so each key is counted
        messages.extend(got)
        expected[key] = expected.get(key, 0) + len(got)

    for wait in (0.8, 0.9, 1.0):
        edge.waited("face", wait)
    clock.now += 1.0
    shed(edge.signal(), 8, "edge1:queue_wait")  # cut for the queue wait
    clock.now += 1.0
    shed(edge.signal(), 12, "edge1:recovering+queue_wait")  # a quiet interval: growing back
    edge.overloaded()
    clock.now += 1.0
    shed(edge.signal(), 4, "edge1:in_flight")  # halved
    cloud = "[queue_full] node 'cloud': stage 'pass' took 2 and refused 2 task(s): its queue was full"
    shed((0.5, cloud), 4, "cloud:queue_full")  # the cloud's share, passed on by the edge's controller
    shed((0.5, ""), 2, "unstated")  # a share without a reason (a controller of another version)

    store = ResultStore(tmp_path / "results.db", max_records=1000)
    try:
        for n, message in enumerate(messages):
            store.add_drop(DropRecord.of(_task(n), DropReason.SHED, message, node="edge1"))
        store.add_drop(DropRecord.of(_task(len(messages)), DropReason.QUEUE_FULL, "[queue_wait] node 'edge1': x"))
        store.add_result(_task(len(messages) + 1), 0.1, 0.1)
        records: list[dict[str, Any]] = [json.loads(r.model_dump_json()) for r in store.page(0, 1000, "src")]
    finally:
        store.close()
    assert len(records) == len(messages) + 2
    got = shed_by_reason(records, 0.0, float("inf"))
    assert got == dict(sorted(expected.items())) and len(got) == 5, (got, messages)
    assert sum(got.values()) == len(messages)  # the queue_full drop and the result are not shed records
    # Only the records stored in the window count.
    records[0]["stored_at"] = -1.0
    assert sum(shed_by_reason(records, 0.0, float("inf")).values()) == len(messages) - 1
