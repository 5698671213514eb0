"""ServiceClient with its transport swapped for ``httpx.MockTransport``: shaping hook, multipart, status policy."""

from __future__ import annotations

import httpx
import pytest

from common.errors import TransportError
from common.shaping import LinkSpec, TrafficShaper
from common.task import Task
from common.transport import ServiceClient
from tests.common.dagkit import dag_of, new_task

pytestmark = pytest.mark.unit


class Recorder:
    def __init__(self, statuses: list[int] | None = None, error: Exception | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.statuses = statuses or [200]
        self.error = error

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        status = self.statuses[min(len(self.requests), len(self.statuses)) - 1]
        return httpx.Response(status, json={"n": len(self.requests)})


class Booked(TrafficShaper):
    """A shaper that books time on its links but does not sleep, so the test can read the bookings."""

    def __init__(self, links: dict[str, LinkSpec]) -> None:
        self.now = 0.0
        super().__init__(links, clock=lambda: self.now, sleep=self._no_sleep)
        self.waits: list[float] = []

    async def _no_sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


async def test_post_task_is_multipart_and_shaped_to_the_target_node():
    recorder = Recorder()
    shaper = Booked({"edge1": LinkSpec(bandwidth_mbps=8)})
    task = new_task(dag_of([("a", "b")]))
    task.payload.file_name = "seg-1.mp4"
    payload = b"\x00\x01" * 500_000  # 1 MB
    async with ServiceClient(transport=httpx.MockTransport(recorder), shaper=shaper) as client:
        await client.post_task("http://edge1/tasks", task, payload, node="edge1")
        await client.post_task("http://cloud/tasks", task, node="cloud")  # no link to cloud: unshaped
    assert shaper.waits == [pytest.approx(1.0)]
    (sent, _) = recorder.requests
    assert sent.headers["content-type"].startswith("multipart/form-data")
    body = sent.read()
    assert b'name="task"' in body and b'filename="seg-1.mp4"' in body and task.task_uuid.encode() in body
    assert payload in body


async def test_post_task_without_payload_carries_only_the_task():
    recorder = Recorder()
    task = new_task(dag_of([("a", "b")]))
    async with ServiceClient(transport=httpx.MockTransport(recorder)) as client:
        await client.post_task("http://x/tasks", task)
    form = httpx.QueryParams(recorder.requests[0].read().decode())
    assert Task.from_json(form["task"]) == task


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_statuses_are_retried_for_idempotent_calls(status):
    recorder = Recorder([status, status, 200])
    async with ServiceClient(transport=httpx.MockTransport(recorder), retries=2, backoff=0) as client:
        assert (await client.get_json("http://x/")) == {"n": 3}


async def test_read_error_on_post_is_not_retried():
    recorder = Recorder(error=httpx.ReadError("connection reset"))
    async with ServiceClient(transport=httpx.MockTransport(recorder), retries=3, backoff=0) as client:
        with pytest.raises(TransportError, match="connection reset"):
            await client.post_json("http://x/", {})
        assert len(recorder.requests) == 1
        with pytest.raises(TransportError, match="after 4 attempt"):
            await client.get_json("http://x/")
        assert len(recorder.requests) == 5


def test_backoff_grows_but_stays_bounded():
    client = ServiceClient(backoff=0.1, max_backoff=0.5)
    delays = [client.retry_backoff.delay(attempt) for attempt in range(1, 11)]
    assert all(0 < d <= 0.5 for d in delays)
    assert delays[0] <= 0.1 and delays[-1] >= 0.25
