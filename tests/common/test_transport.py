"""ServiceClient against a real uvicorn server on loopback: retries, timeouts, connect errors.

The server counts the hits it gets, so each test checks how many attempts really reached it; attempts that
time out are counted by the client's transport instead (see below).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import ExitStack

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from common.errors import InvalidInput, NotFound, TransportError, UpstreamTimeout
from common.service import install_error_handlers
from common.transport import ServiceClient
from tests.servers import free_port
from tests.servers import serve as running

pytestmark = pytest.mark.integration


def make_app(hits: Counter[str]) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.api_route("/flaky/{key}", methods=["GET", "POST", "PUT"])
    async def flaky(key: str, fail: int = 0, status: int = 503) -> JSONResponse:
        hits[key] += 1
        if hits[key] <= fail:
            return JSONResponse({"error": {"code": "x", "message": f"busy #{hits[key]}"}}, status_code=status)
        return JSONResponse({"hit": hits[key]})

    @app.api_route("/slow/{key}", methods=["GET", "POST"])
    async def slow(key: str, delay: float = 0.0) -> dict[str, int]:
        hits[key] += 1
        await asyncio.sleep(delay)
        return {"hit": hits[key]}

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("no such thing here", detail={"what": "thing"})

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, str | None]:
        return {"auth": request.headers.get("authorization"), "body": (await request.body()).decode()}

    return app


class CountingTransport(httpx.AsyncHTTPTransport):
    """The real network transport, counting the attempts the client makes (the server cannot count
    attempts that never reach it)."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        return await super().handle_async_request(request)


@pytest.fixture
def hits() -> Counter[str]:
    return Counter()


@pytest.fixture
def url(serve, hits) -> str:
    return serve(make_app(hits))


@pytest.fixture
async def client():
    async with ServiceClient(retries=2, backoff=0.01, timeout=5) as c:
        yield c


async def test_idempotent_call_retried_on_503_until_it_succeeds(client, url, hits):
    response = await client.request("GET", f"{url}/flaky/a", params={"fail": 2})
    assert response.json() == {"hit": 3} and hits["a"] == 3


async def test_retries_are_bounded_and_the_last_error_is_reported(client, url, hits):
    with pytest.raises(TransportError) as err:
        await client.request("GET", f"{url}/flaky/b", params={"fail": 10})
    assert hits["b"] == 3  # 1 + 2 retries, no more
    assert err.value.status == 503 and "busy #3" in err.value.message


async def test_post_is_not_retried_on_503_unless_marked_idempotent(client, url, hits):
    with pytest.raises(TransportError) as err:
        await client.request("POST", f"{url}/flaky/c", params={"fail": 1})
    assert hits["c"] == 1 and err.value.status == 503
    response = await client.request("POST", f"{url}/flaky/d", params={"fail": 1}, idempotent=True)
    assert response.json() == {"hit": 2} and hits["d"] == 2


async def test_client_errors_are_not_retried(client, url, hits):
    with pytest.raises(TransportError) as err:
        await client.request("GET", f"{url}/flaky/e", params={"fail": 5, "status": 409})
    assert hits["e"] == 1 and err.value.status == 409
    with pytest.raises(TransportError, match="no such thing here") as err:
        await client.get_json(f"{url}/missing")
    assert err.value.status == 404
    response = await client.request("GET", f"{url}/missing", raise_for_status=False)
    assert response.json()["error"]["detail"] == {"what": "thing"}


# Timed-out attempts are counted by the client's transport: an attempt the client gave up on may reach the
# server's handler late (or, on a loaded machine, after the test looked), so the server's count would race.
# The server's delay (0.6 s) only grows under load, so every attempt against it times out at 0.15 s.


async def test_idempotent_call_retried_on_timeout_a_bounded_number_of_times(url):
    transport = CountingTransport()
    async with ServiceClient(retries=2, backoff=0.01, timeout=5, transport=transport) as client:
        with pytest.raises(UpstreamTimeout, match="after 3 attempt") as err:
            await client.request("GET", f"{url}/slow/f", params={"delay": 0.6}, timeout=0.15)
    assert err.value.status_code == 504
    assert transport.attempts == 3


async def test_post_is_not_retried_on_timeout(url):
    transport = CountingTransport()
    async with ServiceClient(retries=2, backoff=0.01, timeout=5, transport=transport) as client:
        with pytest.raises(UpstreamTimeout):
            await client.request("POST", f"{url}/slow/g", params={"delay": 0.6}, timeout=0.15)
    assert transport.attempts == 1


async def test_per_call_timeout_overrides_the_default(url, hits):
    async with ServiceClient(timeout=0.1, retries=0) as quick:
        response = await quick.request("GET", f"{url}/slow/h", params={"delay": 0.3}, timeout=2.0)
        assert response.json() == {"hit": 1}
        with pytest.raises(UpstreamTimeout):
            await quick.request("GET", f"{url}/slow/i", params={"delay": 0.3})


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_connect_errors_are_retried_for_any_method(method):
    transport = CountingTransport()
    dead = f"http://127.0.0.1:{free_port()}/x"  # nothing listens there
    async with ServiceClient(retries=3, backoff=0.01, transport=transport) as c:
        with pytest.raises(TransportError, match="after 4 attempt") as err:
            await c.request(method, dead)
    assert transport.attempts == 4
    assert err.value.url == dead and err.value.status_code == 502


async def test_a_server_that_comes_up_during_retries_is_reached(hits):
    """The first attempts find nothing listening; the server starts before the retries run out."""
    port = free_port()
    transport = CountingTransport()
    with ExitStack() as stack:

        async def start_late() -> None:
            await asyncio.sleep(0.2)
            await asyncio.to_thread(stack.enter_context, running(make_app(hits), port))

        starter = asyncio.create_task(start_late())
        # ~30 s of retries: a uvicorn thread slow to start on a loaded machine is still within them.
        async with ServiceClient(retries=60, backoff=0.05, max_backoff=0.5, transport=transport) as c:
            response = await c.request("POST", f"http://127.0.0.1:{port}/flaky/late")
        await starter
    assert response.json() == {"hit": 1}
    assert transport.attempts > 1 and hits["late"] == 1


async def test_token_is_sent_as_bearer(url):
    async with ServiceClient(token="s3cret") as c:
        body = await c.post_json(f"{url}/echo", {"k": 1})
    assert body == {"auth": "Bearer s3cret", "body": '{"k":1}'}


async def test_bad_urls_fail_at_once():
    transport = CountingTransport()
    async with ServiceClient(retries=3, transport=transport) as c:
        with pytest.raises(TransportError, match="bad URL"):
            await c.request("GET", "ftp://127.0.0.1/x")
        with pytest.raises(TransportError, match="bad URL"):
            await c.request("GET", "http://[::1/x")
    assert transport.attempts <= 1


def test_client_settings_are_checked():
    with pytest.raises(InvalidInput, match="retries"):
        ServiceClient(retries=-1)
    with pytest.raises(InvalidInput):
        ServiceClient(timeout=0)
