"""The service factory through a real server: /health, /metrics, the error shape, the token check, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, Field

from common.config import ServiceSettings
from common.errors import Conflict, Overloaded
from common.service import create_service
from common.topology import StaticTopology, TopologyModel
from common.transport import ServiceClient
from tests.servers import serve as running

pytestmark = pytest.mark.integration

TOKEN = "t0ken-for-tests"


class Item(BaseModel):
    name: str = Field(min_length=1)
    count: int = Field(ge=0)


def make_router(seen: dict[str, object]) -> APIRouter:
    router = APIRouter()

    @router.get("/items/{item_id}")
    async def get_item(item_id: int, request: Request) -> dict[str, object]:
        seen["client"] = request.app.state.client
        return {"id": item_id}

    @router.post("/items")
    async def add_item(item: Item) -> Item:
        return item

    @router.post("/conflict")
    async def conflict() -> None:
        raise Conflict("item 3 exists", detail={"id": 3})

    @router.get("/busy")
    async def busy() -> None:
        raise Overloaded("queue full (8)")

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    return router


@pytest.fixture
def app_and_seen() -> tuple[FastAPI, dict[str, object]]:
    seen: dict[str, object] = {}
    settings = ServiceSettings(node="edge1", token=TOKEN, port=1)
    app = create_service("tester", settings, routers=[make_router(seen)], health=lambda app: {"queue": 0})
    return app, seen


@pytest.fixture
def base(serve, app_and_seen) -> str:
    return serve(app_and_seen[0])


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def test_health_and_metrics_are_open(base, http):
    health = (await http.get(f"{base}/health")).json()
    assert health["status"] == "ok" and health["service"] == "tester" and health["node"] == "edge1"
    assert health["queue"] == 0 and health["uptime_s"] >= 0
    await http.get(f"{base}/items/7", headers={"Authorization": f"Bearer {TOKEN}"})
    metrics = await http.get(f"{base}/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    # Counted per route template, not per concrete path (bounded label values).
    assert 'dayu_http_requests_total{method="GET",route="/items/{item_id}",status="200"} 1.0' in text
    assert "dayu_http_request_seconds_bucket" in text


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "ok"),
    [
        ("GET", "/items/1", {}, False),
        ("GET", "/items/1", {"headers": {"Authorization": "Bearer wrong"}}, False),
        ("GET", "/items/1", {"headers": {"Authorization": f"Bearer {TOKEN}"}}, True),
        ("GET", "/items/1", {"headers": {"authorization": f"bearer {TOKEN}"}}, True),
        ("GET", "/items/1", {"headers": {"X-Dayu-Token": TOKEN}}, True),
        ("GET", "/items/1", {"params": {"token": TOKEN}}, True),
        ("POST", "/items", {"params": {"token": TOKEN}, "json": {"name": "a", "count": 1}}, False),
        ("POST", "/items", {"headers": {"X-Dayu-Token": TOKEN}, "json": {"name": "a", "count": 1}}, True),
    ],
)
async def test_token_check(base, http, method, path, kwargs, ok):
    response = await http.request(method, f"{base}{path}", **kwargs)
    if ok:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 401
        assert response.json() == {
            "error": {
                "code": "unauthorized",
                "message": "missing or wrong token: send 'Authorization: Bearer <token>'",
                "detail": None,
            }
        }


AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code", "words"),
    [
        ("POST", "/conflict", {}, 409, "conflict", "item 3 exists"),
        ("GET", "/busy", {}, 503, "overloaded", "queue full (8)"),
        ("POST", "/items", {"json": {"name": "", "count": -1}}, 422, "invalid_input", "body.name"),
        (
            "POST",
            "/items",
            {"content": b"{bad", "headers": {"content-type": "application/json"}},
            422,
            "invalid_input",
            "JSON decode error",
        ),
        ("GET", "/items/abc", {}, 422, "invalid_input", "path.item_id"),
        ("GET", "/nowhere", {}, 404, "not_found", "Not Found"),
        ("DELETE", "/items/1", {}, 405, "method_not_allowed", "Method Not Allowed"),
        ("GET", "/boom", {}, 500, "internal_error", "RuntimeError"),
    ],
)
async def test_every_error_has_one_shape(base, http, method, path, kwargs, status, code, words):
    headers = {**AUTH, **kwargs.pop("headers", {})}
    response = await http.request(method, f"{base}{path}", headers=headers, **kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "detail"}
    assert body["error"]["code"] == code and words in body["error"]["message"]
    assert "secret internals" not in response.text
    # The service keeps serving after any of these.
    assert (await http.get(f"{base}/health")).status_code == 200


async def test_validation_detail_lists_each_field(base, http):
    response = await http.post(f"{base}/items", headers=AUTH, json={"name": "", "count": -1})
    fields = {p["field"] for p in response.json()["error"]["detail"]}
    assert fields == {"body.name", "body.count"}


async def test_conflict_detail_is_passed_through(base, http):
    response = await http.post(f"{base}/conflict", headers=AUTH)
    assert response.json()["error"]["detail"] == {"id": 3}


async def test_no_token_configured_means_open(serve, http):
    app = create_service("open", ServiceSettings(token=None), routers=[make_router({})])
    base = serve(app)
    assert (await http.get(f"{base}/items/5")).json() == {"id": 5}


async def test_lifespan_gives_a_shaped_client_and_runs_the_component_lifespan(http):
    topology = StaticTopology(
        TopologyModel.model_validate(
            {
                "nodes": {"cloud": {"role": "cloud"}, "edge1": {"role": "edge"}},
                "links": [{"a": "edge1", "b": "cloud", "bandwidth_mbps": 8}],
            }
        )
    )
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append(f"start client={type(app.state.client).__name__}")
        yield
        events.append("stop")

    seen: dict[str, object] = {}
    app = create_service(
        "shaped", ServiceSettings(node="edge1"), routers=[make_router(seen)], lifespan=lifespan, topology=topology
    )
    with running(app) as base:
        assert (await http.get(f"{base}/items/1")).status_code == 200
        client = seen["client"]
        assert isinstance(client, ServiceClient) and client.shaper is not None
        assert client.shaper.reserve("cloud", 1_000_000) == pytest.approx(1.0)
        assert events == ["start client=ServiceClient"]
    assert events[-1] == "stop"
    assert client.closed  # the factory closes the client it made


async def test_topology_from_settings_inline_json(http):
    inline = '{"nodes": {"cloud": {"role": "cloud", "components": {"scheduler": {"port": 9002}}}}}'
    seen: dict[str, object] = {}
    app = create_service("t", ServiceSettings(topology=inline), routers=[make_router(seen)])
    with running(app) as base:
        await http.get(f"{base}/items/1")
        assert app.state.topology.component_url("scheduler") == "http://127.0.0.1:9002"


async def test_unexpected_error_keeps_the_connection_and_is_counted(base):
    """A pooled client (keep-alive) must be able to send its next request on the same connection."""
    async with ServiceClient(retries=0, token=TOKEN) as client:
        response = await client.request("GET", f"{base}/boom", raise_for_status=False)
        assert response.status_code == 500
        assert (await client.post_json(f"{base}/items", {"name": "n", "count": 2})) == {"name": "n", "count": 2}
        metrics = (await client.request("GET", f"{base}/metrics")).text
    assert 'dayu_http_requests_total{method="GET",route="/boom",status="500"} 1.0' in metrics
