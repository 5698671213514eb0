"""The request guard through a real server: token before body, body limits while streaming, JSON depth.

Oversized bodies are announced with a raw socket and never sent: the answer must come before the body,
which proves nothing was buffered (a server that read first would wait for the bytes forever).
"""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import APIRouter, Request
from pydantic import BaseModel

from common.config import ServiceSettings
from common.guard import MAX_JSON_DEPTH, json_too_deep
from common.service import create_service

pytestmark = pytest.mark.integration

TOKEN = "guard-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Thing(BaseModel):
    name: str


def make_app():
    router = APIRouter()
    seen: dict[str, int] = {"bodies": 0, "forms": 0}

    @router.post("/json")
    async def take_json(thing: Thing) -> dict[str, str]:
        seen["bodies"] += 1
        return {"name": thing.name}

    @router.post("/raw")
    async def take_raw(request: Request) -> dict[str, int]:
        body = await request.body()
        seen["bodies"] += 1
        return {"bytes": len(body)}

    @router.post("/loads")
    async def loads_anything(request: Request) -> dict[str, str]:
        # Like a route that parses its body by hand, whatever the content type says.
        json.loads(await request.body())
        return {"ok": "yes"}

    @router.post("/small")
    async def small(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @router.post("/form")
    async def form(request: Request) -> dict[str, int]:
        parsed = await request.form()
        seen["forms"] += 1
        return {"fields": len(parsed)}

    settings = ServiceSettings(token=TOKEN, port=1, max_json_bytes=64 * 1024, max_body_bytes=1024 * 1024)
    app = create_service("guarded", settings, routers=[router], body_limits={"/small": 2048})
    return app, seen


@pytest.fixture
def guarded(serve):
    app, seen = make_app()
    return serve(app), seen


def raw_exchange(base: str, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send ``head`` (and ``body``) on a fresh connection; return the status and what came back."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        # the rest of a short error body
        sock.settimeout(1)
        try:
            while chunk := sock.recv(65536):
                data += chunk
                if data.endswith(b"}"):
                    break
        except TimeoutError:
            pass
    status = int(data.split(b" ", 2)[1]) if data else 0
    return status, data


def test_no_token_is_answered_before_the_body(guarded):
    base, seen = guarded
    head = "POST /json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n"
    status, data = raw_exchange(base, head)
    assert status == 401 and b"unauthorized" in data
    assert seen["bodies"] == 0


def test_no_token_chunked_upload_is_answered_before_the_body(guarded):
    base, _ = guarded
    head = (
        "POST /raw HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    status, _ = raw_exchange(base, head, b"10\r\n0123456789abcdef\r\n")
    assert status == 401


@pytest.mark.parametrize(
    ("path", "content_type", "limit"),
    [
        ("/json", "application/json", 64 * 1024),
        ("/raw", "application/octet-stream", 1024 * 1024),
        ("/small", "text/plain", 2048),
    ],
)
def test_declared_length_over_the_route_limit_is_413_before_the_body(guarded, path, content_type, limit):
    base, seen = guarded
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {limit + 1}\r\n\r\n"
    )
    status, data = raw_exchange(base, head)
    assert status == 413, data
    error = json.loads(data.split(b"\r\n\r\n", 1)[1])["error"]
    assert error["code"] == "payload_too_large" and error["detail"]["limit"] == limit
    assert seen["bodies"] == 0


def test_chunked_body_over_the_limit_stops_while_streaming(guarded):
    base, seen = guarded

    def chunks():
        for _ in range(40):  # 40 x 64 KiB = 2.5 MiB against a 1 MiB limit, no length declared
            yield b"x" * 65536

    with httpx.Client(timeout=10) as client:
        try:
            response = client.post(
                f"{base}/raw", content=chunks(), headers={**AUTH, "Content-Type": "application/octet-stream"}
            )
        except httpx.HTTPError:
            pytest.fail("the server broke the connection instead of answering 413")
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
    assert seen["bodies"] == 0


def test_chunked_json_over_the_limit_is_413(guarded):
    """No length declared: the JSON limit (64 KiB here) is counted as the chunks arrive; the route never
    parses the body. The same chunked shape under the limit goes through, so the 413 is the limit's."""
    base, seen = guarded

    def chunks(pieces: int):
        yield b'{"name": "'
        for _ in range(pieces):
            yield b"y" * 32768
        yield b'"}'

    headers = {**AUTH, "Content-Type": "application/json"}
    with httpx.Client(timeout=10) as client:
        response = client.post(f"{base}/json", content=chunks(4), headers=headers)
        assert response.status_code == 413
        error = response.json()["error"]
        assert error["code"] == "payload_too_large" and error["detail"]["limit"] == 64 * 1024
        assert seen["bodies"] == 0
        under = client.post(f"{base}/json", content=chunks(1), headers=headers)
    assert under.status_code == 200 and under.json() == {"name": "y" * 32768}
    assert seen["bodies"] == 1


def test_multipart_form_over_the_limit_is_413(guarded):
    """A streamed form is held to the streamed-body limit (1 MiB here): 413 naming it, the form never parsed
    by the route; the same form under the limit is parsed whole."""
    base, seen = guarded

    def chunks(pieces: int):
        yield b'--b\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\n'
        for _ in range(pieces):
            yield b"z" * 65536
        yield b"\r\n--b--\r\n"

    headers = {**AUTH, "Content-Type": "multipart/form-data; boundary=b"}
    with httpx.Client(timeout=10) as client:
        response = client.post(f"{base}/form", content=chunks(40), headers=headers)
        assert response.status_code == 413
        error = response.json()["error"]
        assert error["code"] == "payload_too_large" and error["detail"]["limit"] == 1024 * 1024
        assert seen["forms"] == 0
        under = client.post(f"{base}/form", content=chunks(8), headers=headers)
    assert under.status_code == 200 and under.json() == {"fields": 1}
    assert seen["forms"] == 1


def test_bodies_within_limits_pass_unchanged(guarded):
    base, seen = guarded
    with httpx.Client(timeout=10, headers=AUTH) as client:
        assert client.post(f"{base}/json", json={"name": "ok"}).json() == {"name": "ok"}
        payload = bytes(range(256)) * 3000
        raw = client.post(f"{base}/raw", content=payload, headers={"Content-Type": "application/octet-stream"})
        assert raw.json() == {"bytes": len(payload)}
        text = client.post(f"{base}/raw", content=b"[" * 10 + b"]" * 10)
        assert text.json() == {"bytes": 20}
        form = client.post(f"{base}/form", files={"f": ("a.bin", b"1234")}, data={"x": "1"})
        assert form.json() == {"fields": 2}
    assert seen["bodies"] == 3


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
def test_deep_json_is_400_on_every_route(guarded, content_type):
    base, _ = guarded
    body = b"[" * 1000 + b"]" * 1000
    headers = dict(AUTH)
    if content_type:
        headers["Content-Type"] = content_type
    with httpx.Client(timeout=10, headers=headers) as client:
        for path in ("/json", "/loads", "/raw"):
            response = client.post(f"{base}{path}", content=body)
            assert response.status_code == 400, (path, response.text)
            assert "nested deeper" in response.json()["error"]["message"]
        # The service keeps answering.
        assert client.post(f"{base}/loads", content=b'{"a": [[1]]}').json() == {"ok": "yes"}


def test_open_routes_need_no_token_but_take_small_bodies_only(guarded):
    base, _ = guarded
    with httpx.Client(timeout=10) as client:
        assert client.get(f"{base}/health").status_code == 200
        assert client.get(f"{base}/metrics").status_code == 200
        assert client.get(f"{base}/openapi.json").status_code == 200
        assert client.get(f"{base}/json", params={"token": TOKEN}).status_code == 405
        assert client.get(f"{base}/json").status_code == 401
    head = "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n"
    assert raw_exchange(base, head)[0] == 413


@pytest.mark.unit
def test_depth_scan_ignores_brackets_in_strings():
    deep = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    assert json_too_deep(deep.encode())
    assert not json_too_deep(json.dumps({"text": deep, "n": [[1, 2], {"a": '\\"['}]}).encode())
    assert not json_too_deep(json.dumps([list(range(3))] * 500).encode())
