"""The platform token goes only to the platform's own datasource, never to an outside camera.

The "camera" is a real HTTP server on loopback answering the two calls a source makes when it opens
(reset, stream info), recording the headers it receives.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request

from common.transport import ServiceClient
from services.generator.sources.http import HttpSource, HttpSourceConfig
from tests.servers import serve

pytestmark = pytest.mark.integration

PLATFORM_TOKEN = "platform-secret"


def camera(seen: list[str | None]) -> FastAPI:
    app = FastAPI()

    @app.post("/streams/cam/reset")
    async def reset(request: Request, client: str) -> dict[str, object]:
        seen.append(request.headers.get("authorization"))
        return {"id": "cam", "client": client, "reset": True}

    @app.get("/streams/cam")
    async def info(request: Request) -> dict[str, object]:
        seen.append(request.headers.get("authorization"))
        return {
            "id": "cam",
            "mode": "http",
            "play": "cycle",
            "dataset": None,
            "url": None,
            "width": 320,
            "height": 192,
            "resolution": "192p",
            "fps": 30.0,
            "frames": None,
            "ground_truth": False,
            "clients": [],
            "rtsp_url": None,
        }

    return app


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, None),
        ({"platform": True}, f"Bearer {PLATFORM_TOKEN}"),
        ({"token": "camera-own"}, "Bearer camera-own"),
    ],
)
def test_a_source_sends_only_the_token_its_config_says(monkeypatch, params, expected) -> None:
    monkeypatch.setenv("DAYU_TOKEN", PLATFORM_TOKEN)
    seen: list[str | None] = []
    with serve(camera(seen)) as base:
        source = HttpSource(HttpSourceConfig(url=f"{base}/streams/cam", **params))
        try:
            meta = source.open()
        finally:
            source.close()
    assert meta.width == 320
    assert seen == [expected, expected]


@pytest.mark.unit
async def test_the_client_attaches_the_token_per_destination() -> None:
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers.get("authorization")))
        return httpx.Response(200, json={})

    client = ServiceClient(
        token="t", transport=httpx.MockTransport(handler), token_to=lambda url: url.host.endswith(".dayu.internal")
    )
    async with client:
        await client.get_json("http://scheduler.dayu.internal/x")
        await client.get_json("http://camera.example/x")
        await client.get_json("http://camera.example/x", headers={"Authorization": "Bearer own"})
    assert seen == [("scheduler.dayu.internal", "Bearer t"), ("camera.example", None), ("camera.example", "Bearer own")]
