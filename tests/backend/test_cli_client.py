"""``dayuctl`` parses every reply into the model its route declares (``backend/contracts``) and fails clearly
on a reply outside it: one line naming the route, the model and the field, exit status 1, no traceback and
no table of guesses.

The backend here is a stand-in on loopback that answers outside its contracts on purpose, which the real
backend (its replies validated by its own response models) cannot be made to do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from backend.cli import main as dayuctl
from tests.servers import serve

pytestmark = pytest.mark.integration

REPLIES: dict[str, Response] = {
    "/api/nodes": JSONResponse([{"name": "cloud", "role": "cloud", "arch": "amd64", "cpu": "busy"}]),
    "/api/sources": JSONResponse([]),
    "/api/install": JSONResponse({"phase": "sideways"}),
    "/api/dags": PlainTextResponse("<html>a proxy's page</html>"),
    "/api/policies": JSONResponse({"error": {"code": "not_found", "message": "no such thing", "detail": None}}, 404),
}


async def answer(request: Request) -> Response:
    return REPLIES[request.url.path]


@pytest.fixture(scope="module")
def backend() -> Iterator[str]:
    app = Starlette(routes=[Route(path, answer) for path in REPLIES])
    with serve(app) as url:
        yield url


def run(backend: str, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = dayuctl(["--url", backend, "--token", "t", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def away_from_dayu_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``.dayu/`` of this checkout is found from the test's working directory."""
    monkeypatch.chdir(tmp_path)


def test_a_field_of_the_wrong_type_is_named(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(backend, "nodes", capsys=capsys)
    assert (code, out) == (1, "")
    assert err == (
        "dayuctl: GET /api/nodes: the backend answered outside the NodeList contract: "
        "0.cpu: Input should be a valid number, unable to parse string as a number\n"
    )


def test_a_value_outside_the_contract_is_named(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(backend, "status", capsys=capsys)
    assert (code, out) == (1, "")
    assert err.startswith("dayuctl: GET /api/install: the backend answered outside the InstallStatus contract: phase: ")
    assert err.count("\n") == 1


def test_a_body_that_is_not_json_is_named(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(backend, "dag", "list", capsys=capsys)
    assert (code, out) == (1, "")
    assert err.startswith("dayuctl: GET /api/dags: the backend answered outside the DagList contract: the body: ")
    assert err.count("\n") == 1


def test_an_error_reply_is_its_message(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(backend, "policies", capsys=capsys) == (1, "", "dayuctl: GET /api/policies: 404: no such thing\n")


def test_a_reply_inside_the_contract_is_shown(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(backend, "sources", capsys=capsys) == (0, "(none)\n", "")
    assert run(backend, "--json", "sources", capsys=capsys) == (0, "[]\n", "")
