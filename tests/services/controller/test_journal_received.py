"""The in-flight journal keeps a task sent as JSON as its body came, written once, not serialised again.

A real controller on loopback with a real processor app that holds each task until the test lets it go (a
gate, not a sleep: what is in flight does not depend on the machine's speed), and a real distributor app
recording results; the journal is read from its file while the task is held.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response

from common.outbox import SPOOL_DIR
from common.task import Task
from common.wire import LINK_WAIT_HEADER
from services.controller.app import create_app
from services.controller.config import ControllerConfig, ControllerSettings
from services.controller.journal import LOG_NAME, InflightJournal
from tests import loopback
from tests.e2e.cluster import wait_until
from tests.servers import free_port, serve
from tests.services.controller.test_controller import Recorder as DistRecorder
from tests.services.controller.test_controller import fake_distributor, make_task

pytestmark = pytest.mark.integration

ONE_STAGE = {"stages": [{"name": "a", "service": "svc-a"}]}
WAIT_S = 60.0  # generous bound for a loaded machine; every wait ends as soon as its condition holds


@dataclass
class Held:
    gate: threading.Event = field(default_factory=threading.Event)
    arrived: list[str] = field(default_factory=list)


def held_processor(held: Held) -> FastAPI:
    app = FastAPI()

    @app.post("/process")
    async def process(request: Request) -> Response:
        task = Task.from_json(await request.body())
        held.arrived.append(task.task_uuid)
        await asyncio.to_thread(held.gate.wait, WAIT_S)
        task.stage.done = True
        return Response(task.to_json(), media_type="application/json")

    return app


@dataclass
class Node:
    url: str
    work: Path
    held: Held
    results: DistRecorder

    @property
    def journal_file(self) -> Path:
        return self.work / SPOOL_DIR / "controller-inflight" / LOG_NAME

    def journal_lines(self) -> list[bytes]:
        return self.journal_file.read_bytes().split(b"\n")[:-1] if self.journal_file.exists() else []

    def taken(self) -> dict[str, bytes]:
        """The copies the journal holds as taken: key -> the JSON written for it."""
        lines = self.journal_lines()
        return {k.decode(): body for k, _, body in (ln[1:].partition(b" ") for ln in lines if ln.startswith(b"+"))}


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    held, rec = Held(), DistRecorder()
    ports = {n: free_port() for n in ("controller", "processor", "distributor")}
    topology = {
        "nodes": {
            "cloud": {
                "role": "cloud",
                "components": {
                    "controller": {"port": ports["controller"]},
                    "distributor": {"port": ports["distributor"]},
                },
                "processors": {"svc-a": {"port": ports["processor"]}},
            }
        },
        "links": [],
    }
    (tmp_path / "topology.json").write_text(json.dumps(topology))
    work = tmp_path / "work"
    work.mkdir()
    settings = ControllerSettings(
        node="cloud", port=ports["controller"], topology=str(tmp_path / "topology.json"), work_dir=work, config=None
    )
    with ExitStack() as stack:
        stack.enter_context(serve(held_processor(held), ports["processor"]))
        stack.enter_context(serve(fake_distributor(rec), ports["distributor"]))
        url = stack.enter_context(serve(create_app(settings, ControllerConfig()), ports["controller"]))
        try:
            yield Node(url, work, held, rec)
        finally:
            held.gate.set()  # nothing stays held past the test, whatever it asserted


def submit(node: Node, task: Task, body: bytes, headers: dict[str, str] | None = None) -> dict[str, Any]:
    (node.work / (task.payload.file_name or "")).write_bytes(b"segment")
    reply = loopback.post(
        node.url + "/tasks",
        content=body,
        headers={"content-type": "application/json", **(headers or {})},
        timeout=WAIT_S,
    )
    assert reply.status_code == 202, reply.text
    result: dict[str, Any] = reply.json()
    return result


def held_entry(node: Node, task: Task) -> bytes:
    """The journal's JSON for ``task``, once the task is at the processor (so past the 202 and still held)."""
    wait_until(lambda: task.task_uuid in node.held.arrived, timeout=WAIT_S, what="the task at the processor")
    key = InflightJournal.key(task)
    return node.taken()[key]


def test_a_task_sent_as_json_is_journaled_as_its_body_came(node: Node) -> None:
    task = make_task(ONE_STAGE, 1)
    body = task.to_json().encode().replace(b'"source_id":', b'"source_id" :')  # not what the task writes
    assert submit(node, task, body)["outcome"] == "accepted"
    assert held_entry(node, task) == body
    node.held.gate.set()
    wait_until(lambda: node.results.results, timeout=WAIT_S, what="the result")
    # Crossed out once it left.
    crossed = b"-" + InflightJournal.key(task).encode()
    wait_until(lambda: crossed in node.journal_lines(), timeout=WAIT_S, what="the copy crossed out")


def test_a_link_wait_changes_the_task_so_the_journal_writes_the_changed_task(node: Node) -> None:
    task = make_task(ONE_STAGE, 2)
    body = task.to_json().encode()
    submit(node, task, body, {LINK_WAIT_HEADER: "0.250000"})
    journaled = Task.from_json(held_entry(node, task))
    assert journaled.dag["_start"].timings.transmit == pytest.approx(0.25)
    assert journaled.task_uuid == task.task_uuid


def test_a_pretty_printed_body_is_journaled_on_one_line_and_recovered(node: Node) -> None:
    task = make_task(ONE_STAGE, 3)
    body = json.dumps(json.loads(task.to_json()), indent=2).encode()
    assert b"\n" in body
    submit(node, task, body)
    entry = held_entry(node, task)
    assert b"\n" not in entry
    assert Task.from_json(entry) == task
    assert all(line[:1] in (b"+", b"-") for line in node.journal_lines())
