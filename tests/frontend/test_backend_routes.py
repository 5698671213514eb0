"""The backend's dashboard-facing bits: the policy benchmark route, the / page with and without a built
dashboard, and the generated API client being current with the backend's OpenAPI document."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.app import create_app
from backend.settings import BackendSettings
from tests import loopback
from tests.frontend.bench_suite import write_suite
from tests.servers import serve

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
TOKEN = "dash-token"


def png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def settings(tmp_path: Path, static: Path) -> BackendSettings:
    return BackendSettings(
        token=TOKEN,
        template=REPO / "template",
        state_dir=tmp_path / "dayu" / "backend",
        run_dir=tmp_path / "run",
        deployer="local",
        static_dir=static,
    )


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[str]:
    with serve(create_app(settings(tmp_path, tmp_path / "no-dist"))) as url:
        yield url


def test_policy_bench_absent_then_present(backend: str, tmp_path: Path) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    empty = loopback.get(f"{backend}/api/bench/policies", headers=auth, timeout=10)
    assert empty.status_code == 200 and empty.json()["available"] is False

    folder = tmp_path / "dayu" / "bench" / "policies"
    written = write_suite(folder, png())
    (folder / "delay.png").write_bytes(png())
    (folder / "notes.txt").write_text("not served")
    summary = loopback.get(f"{backend}/api/bench/policies", headers=auth, timeout=10).json()
    assert summary["available"] is True and summary["error"] is None and summary["results_file"] is True
    cases = summary["suite"]["cases"]
    assert [c["key"] for c in cases] == [*written["held_out"], *written["tuned_on"]]
    assert all(len(p["runs"]) == 2 for c in cases for p in c["policies"])
    assert "## Held out" in summary["table"]
    case_plots = [f"{key}--latency_cdf.png" for key in written["cases"]]
    assert summary["plots"] == sorted([*case_plots, "delay.png"])
    assert [c["plots"] for c in cases] == [[f"{c['key']}--latency_cdf.png"] for c in cases]

    image = loopback.get(f"{backend}/api/bench/policies/files/delay.png", params={"token": TOKEN}, timeout=10)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content == (folder / "delay.png").read_bytes()
    assert loopback.get(f"{backend}/api/bench/policies/files/delay.png", timeout=10).status_code == 401
    for bad, status in (("notes.txt", 400), ("..%2Fbackend%2Ftoken.json", 404), ("missing.png", 404)):
        answer = loopback.get(f"{backend}/api/bench/policies/files/{bad}", headers=auth, timeout=10)
        assert answer.status_code == status, (bad, answer.text)
        assert answer.json()["error"]["message"]


def test_broken_results_json_is_reported_not_raised(backend: str, tmp_path: Path) -> None:
    folder = tmp_path / "dayu" / "bench" / "policies"
    folder.mkdir(parents=True)
    (folder / "results.json").write_text("{not json")
    summary = loopback.get(f"{backend}/api/bench/policies", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert summary.status_code == 200
    assert summary.json()["error"].startswith("results.json does not parse as JSON")
    assert summary.json()["available"] is False and summary.json()["suite"] is None

    (folder / "results.json").write_text(json.dumps({"fixed": {"delay_p50": 0.2}}))
    (folder / "table.md").write_text("| policy | delay |\n|---|---|\n| fixed | 0.2 |\n")
    summary = loopback.get(f"{backend}/api/bench/policies", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert "is not a policy benchmark's results" in summary.json()["error"]
    assert summary.json()["available"] is True and "| fixed | 0.2 |" in summary.json()["table"]


def test_root_says_when_the_dashboard_was_not_built(backend: str) -> None:
    page = loopback.get(f"{backend}/", timeout=10)
    assert page.status_code == 503
    assert "dashboard was not built" in page.text and "/docs" in page.text
    assert loopback.get(f"{backend}/health", timeout=10).status_code == 200


def test_root_serves_a_built_dashboard(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>Dayu</title><div id=app></div>")
    (dist / "assets" / "app.js").write_text("console.log('dayu')")
    with serve(create_app(settings(tmp_path, dist))) as url:
        page = loopback.get(f"{url}/", timeout=10)
        assert page.status_code == 200 and "<div id=app>" in page.text
        assert loopback.get(f"{url}/assets/app.js", timeout=10).text == "console.log('dayu')"
        assert loopback.get(f"{url}/api/dags", timeout=10).status_code == 401


@pytest.mark.unit
def test_generated_client_matches_the_backend_contract() -> None:
    """The committed openapi.json (from which schema.d.ts is generated) is what the backend publishes now;
    after a contract change, `npm run gen:api` in frontend/ regenerates both."""
    dumped = subprocess.run(
        [sys.executable, str(REPO / "frontend" / "scripts" / "dump_openapi.py")],
        capture_output=True, text=True, timeout=120, check=True, cwd=REPO,
    ).stdout  # fmt: skip
    committed = (REPO / "frontend" / "src" / "api" / "openapi.json").read_text()
    assert json.loads(dumped) == json.loads(committed), "run `npm run gen:api` in frontend/ and commit the result"
