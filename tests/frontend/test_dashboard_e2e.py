"""The dashboard end to end in a real browser: Debian's chromium, headless, driven by playwright-core
(`frontend/e2e/run.mjs`), against the real platform started with `dayu.sh` on the local runtime (a copy of
the default template on free ports, DAYU_HOME in a temporary directory). Steps: sign in (a wrong token
first), create a DAG on the canvas (a type error shown on the edge, then fixed), upload two datasource
files (one good, one bad), add a real video (a file that is not a video first: refused), install with a
policy, open, see a frame with the boxes the dashboard draws over it and the results grow over SSE, the
system page, both exports, the policy benchmark page, uninstall, sign out.

The policy benchmark directory holds a suite written here by the benchmark's own writer
(tests/frontend/bench_suite.py): the page only displays what a benchmark run left there; its numbers are
checked by tests/frontend/test_bench_page.py. Screenshots of every page are saved in the test's
temporary directory; with DAYU_DASHBOARD_SHOTS=<dir> they are copied there as well (docs/dashboard/).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from datasource.clips import BUNDLED
from tests.frontend.bench_suite import write_suite
from tests.frontend.test_backend_routes import png
from tests.templates import template_copy

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
FRONTEND = REPO / "frontend"
CHROMIUM = Path(os.environ.get("DAYU_CHROMIUM", "/usr/bin/chromium"))
PAGES = (
    "signin", "overview", "dags-error", "dags", "datasources", "datasources-video", "install", "frame", "results",
    "system", "bench",
)  # fmt: skip

DATASOURCE = {
    "name": "e2e-ds",
    "description": "One synthetic camera for the dashboard test.",
    "sources": [
        {"id": "cam0", "name": "Camera 0", "mode": "http", "dataset": "synthetic", "node_candidates": ["edge1"]}
    ],
}


def run_dayu(action: str, template: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ACTION": action, "TEMPLATE": str(template), "DAYU_HOME": str(home)}
    return subprocess.run(
        ["bash", str(REPO / "dayu.sh")], env=env, capture_output=True, text=True, timeout=900, check=False
    )


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed: the dashboard cannot be built (hack/setup.sh says so too)")
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing: hack/system-deps.sh installs Debian's chromium")
    template = template_copy(tmp_path / "template")
    base = yaml.safe_load((template / "base.yaml").read_text())
    home = tmp_path / "home"
    bench = home / ".dayu" / "bench" / "policies"
    bench.mkdir(parents=True)
    write_suite(bench, png(64, 32))
    started = run_dayu("start", template, home)
    assert started.returncode == 0, started.stderr[-3000:]
    try:
        assert (REPO / "frontend" / "dist" / "index.html").is_file(), "dayu.sh did not build the dashboard"
        token = (home / ".dayu" / "token").read_text().strip()
        yield f"http://127.0.0.1:{base['backend']['port']}", token, tmp_path
    finally:
        stopped = run_dayu("stop", template, home)
        assert stopped.returncode == 0, stopped.stderr[-3000:]


def test_dashboard_in_a_browser(platform: tuple[str, str, Path]) -> None:
    url, token, tmp = platform
    shots = tmp / "shots"
    good, bad = tmp / "e2e-ds.yaml", tmp / "broken.yaml"
    good.write_text(yaml.safe_dump(DATASOURCE))
    bad.write_text("name: broken\nsources: [\n")
    notes = tmp / "notes.mp4"
    notes.write_text("these are notes, not a video\n" * 100)
    env = {
        **os.environ,
        "DAYU_URL": url,
        "DAYU_TOKEN": token,
        "DAYU_SHOTS": str(shots),
        "DAYU_DATASOURCE_FILE": str(good),
        "DAYU_BAD_DATASOURCE_FILE": str(bad),
        "DAYU_VIDEO_FILE": str(BUNDLED["car-detection"].path),
        "DAYU_BAD_VIDEO_FILE": str(notes),
        "DAYU_CHROMIUM": str(CHROMIUM),
    }
    run = subprocess.run(
        ["node", "e2e/run.mjs"], cwd=FRONTEND, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    print(run.stdout)
    assert run.returncode == 0, f"{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    assert (shots / "ok").is_file()
    for page in PAGES:
        assert (shots / f"{page}.png").stat().st_size > 1000, page
    target = os.environ.get("DAYU_DASHBOARD_SHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for page in PAGES:
            shutil.copy(shots / f"{page}.png", Path(target) / f"{page}.png")
