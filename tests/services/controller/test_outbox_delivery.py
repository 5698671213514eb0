"""A controller whose distributor is down keeps its result and drop record in the outbox, across a restart.

Real servers on loopback: the controller app, the real distributor app (SQLite in the test's directory,
feedback to the scheduler off: there is none), and the small recording processor of the routing tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from services.controller.app import create_app
from services.controller.config import ControllerConfig, ControllerSettings
from services.distributor.app import create_app as create_distributor
from services.distributor.config import DistributorConfig
from services.distributor.settings import DistributorSettings
from tests import loopback
from tests.e2e.cluster import wait_until
from tests.servers import free_port, serve
from tests.services.controller.test_controller import SERVICES, Recorder, fake_processor, make_task

pytestmark = pytest.mark.integration

CONFIG = ControllerConfig.model_validate(
    {"drop_retries": 0, "outbox": {"retry_initial_s": 0.05, "retry_max_s": 0.3, "send_timeout_s": 3.0}}
)


class Node:
    def __init__(self, tmp: Path) -> None:
        self.ports = {name: free_port() for name in ("controller", "distributor", "processor")}
        self.work = tmp / "cloud"
        self.work.mkdir()
        self.dist_work = tmp / "distributor"
        self.dist_work.mkdir()
        self.topology = tmp / "topology.json"
        self.topology.write_text(
            json.dumps(
                {
                    "nodes": {
                        "cloud": {
                            "role": "cloud",
                            "components": {
                                "controller": {"port": self.ports["controller"]},
                                "distributor": {"port": self.ports["distributor"]},
                            },
                            "processors": {s: {"port": self.ports["processor"]} for s in SERVICES},
                        }
                    },
                    "links": [],
                }
            )
        )
        self.rec = Recorder()

    @contextmanager
    def controller(self) -> Iterator[str]:
        settings = ControllerSettings(
            node="cloud", port=self.ports["controller"], topology=str(self.topology), work_dir=self.work, config=None
        )
        with serve(create_app(settings, CONFIG), self.ports["controller"]) as url:
            yield url

    @contextmanager
    def distributor(self) -> Iterator[str]:
        settings = DistributorSettings(
            node="cloud", port=self.ports["distributor"], topology=str(self.topology), work_dir=self.dist_work
        )
        with serve(create_distributor(settings, DistributorConfig(feedback=False)), self.ports["distributor"]) as url:
            yield url

    @contextmanager
    def processor(self) -> Iterator[str]:
        with serve(fake_processor(self.rec, {self.ports["processor"]: self.work}), self.ports["processor"]) as url:
            yield url

    def submit(self, url: str, task_id: int, service: str) -> None:
        task = make_task({"stages": [{"name": "s", "service": service}]}, task_id)
        (self.work / (task.payload.file_name or "")).write_bytes(b"segment")
        response = loopback.post(url + "/tasks", json=json.loads(task.to_json()), timeout=10)
        assert response.status_code == 202 and response.json()["outcome"] == "accepted"


def status(url: str) -> dict[str, Any]:
    body: dict[str, Any] = loopback.get(url + "/status", timeout=5).json()
    return body


def test_a_result_and_a_drop_made_while_the_distributor_is_down_arrive_after_a_restart(tmp_path: Path) -> None:
    node = Node(tmp_path)
    spool = node.work / ".outbox" / "controller.jsonl"
    with node.processor():
        with node.controller() as url:
            node.submit(url, 0, "svc-a")  # finishes: its result cannot be delivered
            node.submit(url, 1, "ghost")  # deployed nowhere: its drop record cannot be delivered
            wait_until(lambda: status(url)["outbox"]["pending"] == 2, timeout=60, what="both records spooled")
            first = status(url)
            assert first["counts"]["finished"] == 1 and first["drops"] == {"service_missing": 1}
            assert first["counts"]["unrecorded"] == 0 and first["outbox"]["discarded"] == 0
        assert len(spool.read_text().splitlines()) == 2
        with node.controller() as url:  # a new app over the same work dir reads the spool again
            assert status(url)["outbox"]["pending"] == 2
            with node.distributor() as dist:
                records = wait_until(
                    lambda: (r := loopback.get(dist + "/results", timeout=5).json()["records"]) and len(r) >= 2 and r,
                    timeout=60,
                    what="both records at the distributor",
                )
                assert sorted((r["kind"], r["task_id"]) for r in records) == [("drop", 1), ("result", 0)]
                assert next(r for r in records if r["kind"] == "drop")["reason"] == "service_missing"
                wait_until(lambda: status(url)["outbox"]["pending"] == 0, timeout=60, what="an empty outbox")
                after = status(url)
                assert after["outbox"]["delivered_later"] == 2 and after["counts"]["unrecorded"] == 0
                metrics = loopback.get(url + "/metrics", timeout=5).text
                assert "dayu_outbox_delivered_total 2.0" in metrics and "dayu_outbox_pending 0.0" in metrics
    assert not spool.exists()
