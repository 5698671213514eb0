"""The backend against hostile input: YAML bombs, huge or deep bodies, bodies without a token.

Oversized bodies are announced on a raw socket and never sent: an answer that arrives anyway proves the
backend decided before reading (or spooling) a byte of them.
"""

from __future__ import annotations

import json
import socket
import time

import pytest

from tests.backend.conftest import TOKEN, RunningBackend
from tests.common.test_config import billion_laughs

pytestmark = pytest.mark.integration

GIB = 1024**3


def announce(backend: RunningBackend, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict]:
    """Send only the head of a request; return the status and JSON body of the answer."""
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", backend.port), timeout=10) as sock:
        sock.sendall(head.encode())
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            head_end = data.find(b"\r\n\r\n")
            if head_end >= 0:
                length = int(
                    next(
                        line.split(b":")[1]
                        for line in data[:head_end].split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    )
                )
                if len(data) >= head_end + 4 + length:
                    break
    status = int(data.split(b" ", 2)[1])
    return status, json.loads(data.split(b"\r\n\r\n", 1)[1])


def rss_of_this_process() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS"))


def test_yaml_bomb_upload_is_refused_and_the_backend_stays_up(backend: RunningBackend) -> None:
    c = backend.client()
    bomb = ("name: bomb\n" + billion_laughs() + "sources:\n  - {id: s1, mode: file, path: /x}\n").encode()
    before = rss_of_this_process()  # the backend runs in this process (uvicorn in a thread)
    started = time.monotonic()
    answer = c.post("/api/datasources", files=[("files", ("bomb.yaml", bomb, "application/yaml"))]).json()
    assert answer["ok"] is False and "alias" in answer["results"][0]["error"]
    views = c.put("/api/visualizations/cam0", files={"file": ("views.yaml", bomb, "application/yaml")})
    assert views.status_code == 400 and "alias" in views.json()["error"]["message"]
    assert time.monotonic() - started < 30
    assert rss_of_this_process() - before < 200 * 1024 * 1024
    assert c.get("/health").status_code == 200
    assert [d["id"] for d in c.get("/api/datasources").json()] == ["synthetic"]


@pytest.mark.parametrize(
    ("method", "path", "content_type"),
    [
        ("POST", "/api/dags", "application/json"),
        ("POST", "/api/datasources", "multipart/form-data; boundary=x"),
        ("PUT", "/api/visualizations/cam0", "multipart/form-data; boundary=x"),
        ("POST", "/api/install", "application/json"),
    ],
)
def test_a_huge_body_without_token_is_refused_before_it_is_read(backend, method, path, content_type) -> None:
    status, body = announce(backend, method, path, {"Content-Type": content_type, "Content-Length": str(GIB)})
    assert status == 401 and body["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("path", "content_type", "limit"),
    [
        ("/api/dags", "application/json", 1024 * 1024),
        ("/api/datasources", "multipart/form-data; boundary=x", 32 * (1024 * 1024 + 16 * 1024)),
    ],
)
def test_a_huge_body_with_token_is_413_before_it_is_read(backend, path, content_type, limit) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type, "Content-Length": str(GIB)}
    status, body = announce(backend, "POST", path, headers)
    assert status == 413 and body["error"]["detail"]["limit"] == limit


def test_deep_json_is_400(backend: RunningBackend) -> None:
    c = backend.client()
    deep = "[" * 1000 + "]" * 1000
    for method, path in (("POST", "/api/dags"), ("PUT", "/api/dags/face-detection"), ("POST", "/api/install")):
        response = c.request(method, path, content=deep, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (path, response.text)
    assert len(c.get("/api/dags").json()) == 2
