"""ServiceClient's default transport (every call encoded once, sent on aiohttp's pool, read whole) against a
real uvicorn server on loopback: the retry, timeout, token and error rules, counted at the transport."""

from __future__ import annotations

from collections import Counter

import pytest

from common.errors import TransportError, UpstreamTimeout
from common.transport import Outgoing, PooledTransport, Reply, ServiceClient
from tests.common.test_transport import make_app
from tests.servers import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def hits() -> Counter[str]:
    return Counter()


@pytest.fixture
def url(serve, hits) -> str:
    return serve(make_app(hits))


async def test_body_and_headers_arrive_with_the_token(url: str) -> None:
    async with ServiceClient(token="s3cret") as c:
        response = await c.request("POST", f"{url}/echo", content='{"k":1}', headers={"content-type": "text/plain"})
    assert response.status_code == 200
    assert response.json() == {"auth": "Bearer s3cret", "body": '{"k":1}'}
    assert response.headers["content-type"] == "application/json"
    assert response.request.method == "POST" and str(response.request.url) == f"{url}/echo"


async def test_the_token_goes_only_where_it_is_meant_to(url: str) -> None:
    async with ServiceClient(token="s3cret", token_to=lambda target: target.host == "elsewhere") as c:
        response = await c.request("POST", f"{url}/echo", content=b"x")
    assert response.json() == {"auth": None, "body": "x"}


async def test_idempotent_calls_are_retried_and_others_are_not(url: str, hits: Counter[str]) -> None:
    async with ServiceClient(retries=2, backoff=0.01, timeout=5) as c:
        with pytest.raises(TransportError) as err:
            await c.request("POST", f"{url}/flaky/a?fail=1", content=b"x")
        assert hits["a"] == 1 and err.value.status == 503 and "busy #1" in err.value.message
        response = await c.request("POST", f"{url}/flaky/b?fail=2", content=b"x", idempotent=True)
        assert response.json() == {"hit": 3} and hits["b"] == 3
        with pytest.raises(TransportError) as err:
            await c.request("POST", f"{url}/flaky/c?fail=9", content=b"x", idempotent=True)
        assert hits["c"] == 3 and err.value.status == 503


async def test_client_errors_are_reported_with_the_servers_message(url: str) -> None:
    async with ServiceClient() as c:
        with pytest.raises(TransportError, match="no such thing here") as err:
            await c.request("GET", f"{url}/missing", content=None)
        assert err.value.status == 404
        response = await c.request("GET", f"{url}/missing", raise_for_status=False)
        assert response.json()["error"]["detail"] == {"what": "thing"}


def count_fetches(client: ServiceClient) -> list[str]:
    """The URL of every attempt the transport makes (the server cannot count those it never sees in time)."""
    assert isinstance(client.transport, PooledTransport)
    seen: list[str] = []

    class Counted(PooledTransport):
        async def send(self, out: Outgoing) -> Reply:
            seen.append(out.url)
            return await super().send(out)

    client.transport = Counted()
    return seen


async def test_timeouts_are_bounded_per_call(url: str, hits: Counter[str]) -> None:
    """The server's delay (0.6 s) only grows under load, so every attempt against it times out at 0.15 s."""
    async with ServiceClient(timeout=0.15, retries=2, backoff=0.01) as c:
        attempts = count_fetches(c)
        with pytest.raises(UpstreamTimeout):
            await c.request("POST", f"{url}/slow/p?delay=0.6", content=b"x")
        assert len(attempts) == 1
        attempts.clear()
        with pytest.raises(UpstreamTimeout, match="after 3 attempt"):
            await c.request("POST", f"{url}/slow/q?delay=0.6", content=b"x", idempotent=True)
        assert len(attempts) == 3
        response = await c.request("POST", f"{url}/slow/r?delay=0.3", content=b"x", timeout=2.0)
        assert response.json() == {"hit": 1}


async def test_connect_errors_are_retried_and_bad_urls_are_not() -> None:
    dead = f"http://127.0.0.1:{free_port()}/x"  # nothing listens there
    async with ServiceClient(retries=2, backoff=0.01) as c:
        attempts = count_fetches(c)
        with pytest.raises(TransportError, match="after 3 attempt") as err:
            await c.request("POST", dead, content=b"x")
        assert err.value.status_code == 502 and attempts == [dead] * 3
        attempts.clear()
        with pytest.raises(TransportError, match="bad URL"):
            await c.request("POST", "ftp://127.0.0.1/x", content=b"x")
        assert attempts == ["ftp://127.0.0.1/x"]  # refused by the first attempt, never retried
