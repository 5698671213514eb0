"""The default transport (httpx requests over aiohttp's pool) against real servers on loopback:
streamed bodies, gzip decoded exactly once, and pooled connections the server has closed."""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from common.errors import TransportError, UpstreamTimeout
from common.transport import PooledTransport, ServiceClient
from tests.servers import free_port

pytestmark = pytest.mark.integration

CHUNK = b"0123456789abcdef" * 4096  # 64 KiB


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/stream")
    async def stream(n: int) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(n):
                yield CHUNK
                await asyncio.sleep(0)

        return StreamingResponse(chunks(), media_type="application/octet-stream")

    @app.get("/gzip")
    async def gzipped() -> Response:
        return Response(gzip.compress(b"hello " * 1000), headers={"content-encoding": "gzip"})

    @app.post("/echo")
    async def echo(request: Request) -> Response:
        return Response(await request.body(), media_type="application/octet-stream")

    @app.get("/peer")
    async def peer(request: Request) -> dict[str, int]:
        """The client's source port: the same port on two requests means one connection carried both."""
        assert request.client is not None
        return {"port": request.client.port}

    return app


@pytest.fixture
def short_keepalive_url() -> Iterator[str]:
    """A server that closes idle connections after 1 s, as any server may between two calls."""
    yield from serve(keepalive_s=1)


@pytest.fixture
def long_keepalive_url() -> Iterator[str]:
    """A server that keeps idle connections far longer than any test here lasts, even on a loaded machine."""
    yield from serve(keepalive_s=300)


def serve(keepalive_s: int) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        make_app(), host="127.0.0.1", port=port, log_level="warning", timeout_keep_alive=keepalive_s
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


async def test_the_default_transport_is_the_pooled_one(long_keepalive_url: str) -> None:
    """Pooled: sequential requests of one client ride one kept-alive connection; two clients share none."""
    async with ServiceClient() as client:
        ports = [(await client.request("GET", f"{long_keepalive_url}/peer")).json()["port"] for _ in range(3)]
        async with ServiceClient() as other:
            elsewhere = (await other.request("GET", f"{long_keepalive_url}/peer")).json()["port"]
    assert len(set(ports)) == 1, f"a new connection per request: source ports {ports}"
    assert elsewhere != ports[0]
    async with ServiceClient(transport=PooledTransport(max_connections=1)) as narrow:
        # Three at once over a pool of one: they queue for the one connection, never open a second.
        answers = await asyncio.gather(*(narrow.request("GET", f"{long_keepalive_url}/peer") for _ in range(3)))
    assert len({a.json()["port"] for a in answers}) == 1


async def test_a_streamed_body_arrives_whole_in_chunks(short_keepalive_url: str) -> None:
    async with ServiceClient() as client, client.stream("GET", f"{short_keepalive_url}/stream?n=48") as response:
        assert response.status_code == 200
        parts = [part async for part in response.aiter_bytes()]
    assert b"".join(parts) == CHUNK * 48 and len(parts) > 1


async def test_gzip_is_decoded_once_and_bodies_round_trip(short_keepalive_url: str) -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB
    async with ServiceClient() as client:
        assert (await client.request("GET", f"{short_keepalive_url}/gzip")).text == "hello " * 1000
        echoed = await client.request("POST", f"{short_keepalive_url}/echo", content=payload)
    assert echoed.content == payload


async def test_connections_closed_by_the_server_are_not_reused(short_keepalive_url: str) -> None:
    """POST is not retried, so a stale pooled connection would surface here as an error."""
    async with ServiceClient(retries=0) as client:
        for _ in range(2):
            answer = await client.request("POST", f"{short_keepalive_url}/echo", content=b"ping")
            assert answer.content == b"ping"
            await asyncio.sleep(1.3)  # past the server's keep-alive: it closes the connection


async def test_a_peer_that_stops_reading_an_upload_times_out() -> None:
    """Accepts the connection and never reads: the upload stalls once the socket buffers are full."""
    accepted: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with ServiceClient(timeout=0.3, retries=0) as client:
            started = time.monotonic()
            with pytest.raises(UpstreamTimeout):
                await client.request("POST", f"http://127.0.0.1:{port}/x", content=b"\0" * (32 * 1024 * 1024))
            assert time.monotonic() - started < 5
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_streamed_gzip_body_is_passed_on_raw_or_decoded(short_keepalive_url: str) -> None:
    """Exports pass a stream on as it came (``aiter_raw``); ``aiter_bytes`` undoes the content-encoding."""
    async with ServiceClient() as client:
        async with client.stream("GET", f"{short_keepalive_url}/gzip") as response:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
        async with client.stream("GET", f"{short_keepalive_url}/gzip") as response:
            decoded = await response.aread()
    assert gzip.decompress(raw) == decoded == b"hello " * 1000


async def test_a_streamed_upload_is_sent_as_it_comes_and_never_twice(short_keepalive_url: str) -> None:
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(8):
            sent.append(i)
            yield CHUNK

    async with ServiceClient(retries=3, backoff=0.01) as client:
        echoed = await client.request("POST", f"{short_keepalive_url}/echo", content=chunks())
        assert echoed.content == CHUNK * 8 and sent == list(range(8))
        sent.clear()
        dead = f"http://127.0.0.1:{free_port()}/echo"  # nothing listens: a plain body would be retried 3 times
        with pytest.raises(TransportError, match="after 1 attempt"):
            await client.request("POST", dead, content=chunks())
