"""A video file as a datasource, end to end: ``dayuctl datasource add --file`` (the installed console script,
a real process) against a real backend (uvicorn on loopback, real SQLite) that hands the file to a real
datasource service; the datasource then serves it. Hostile uploads through the backend are refused with a
4xx and leave the stored configs and the datasets as they were.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from backend.app import create_app
from backend.datasource_config import SourceEntry
from backend.settings import BackendSettings
from common.segment_wire import decode_segment
from datasource.clips import BUNDLED
from tests import loopback
from tests.datasource.server import TOKEN, auth, open_source, running_datasource
from tests.servers import serve

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CAR = BUNDLED["car-detection"].path
DAYUCTL = Path(sys.executable).with_name("dayuctl")


@dataclass
class Platform:
    backend: str
    datasource: str
    root: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.backend, headers=auth(), timeout=120)


def backend_app(tmp: Path, datasource_url: str | None, **settings: object) -> object:
    template = tmp / "template"
    if not template.exists():
        shutil.copytree(REPO / "template", template)
    config = BackendSettings(
        host="127.0.0.1",
        token=TOKEN,
        template=template,
        state_dir=tmp / "state",
        run_dir=tmp / "state" / "run",
        deployer="local",
        static_dir=tmp / "no-dashboard",
        datasource_url=datasource_url,
        **settings,  # type: ignore[arg-type]
    )
    return create_app(config)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    root = tmp_path / "datasets"
    root.mkdir()
    with running_datasource(root) as ds_url, serve(backend_app(tmp_path, ds_url, max_video_bytes=4_000_000)) as url:  # type: ignore[arg-type]
        yield Platform(url, ds_url, root)


def dayuctl(platform: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(DAYUCTL), "--url", platform.backend, "--token", TOKEN, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def test_dayuctl_adds_a_real_clip_that_the_datasource_serves(platform: Platform) -> None:
    added = dayuctl(platform, "datasource", "add", "--file", str(CAR), "--mode", "http")
    assert added.returncode == 0, added.stderr
    assert "car-detection" in added.stdout and "377" in added.stdout
    assert "relative to the golden configuration" in added.stderr

    listed = json.loads(dayuctl(platform, "--json", "datasource", "list").stdout)
    record = next(d for d in listed if d["id"] == "car-detection")
    source = record["config"]["sources"][0]
    assert source == {
        "id": "car-detection",
        "name": "car-detection.mp4",
        "mode": "http",
        "dataset": "car-detection",
        "url": None,
        "path": None,
        "node_candidates": [],
        "params": {},
        "ground_truth": False,
    }
    assert SourceEntry.model_validate(source).accuracy_reference == "golden"

    # the source plays the file as the backend's install would open it
    opened = open_source(platform.datasource, "car-detection", dataset="car-detection")
    assert opened.status_code == 200 and opened.json()["ground_truth"] is False
    response = loopback.get(
        f"{platform.datasource}/streams/car-detection/segment", params={"frames": 2}, headers=auth(), timeout=30
    )
    header, images = decode_segment(response.content)
    assert len(images) == 2 and images[0].shape == (432, 768, 3)
    assert all(frame.truth is None for frame in header.frames)

    again = dayuctl(platform, "datasource", "add", "--file", str(CAR))
    assert again.returncode == 1 and "exists already" in again.stderr


def test_hostile_videos_through_the_backend_change_nothing(platform: Platform, tmp_path: Path) -> None:
    c = platform.client()
    before_configs = c.get("/api/datasources").json()
    before_datasets = sorted(p.name for p in platform.root.iterdir())
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 200)

    def post(file_name: str, body: bytes, **form: str) -> httpx.Response:
        return c.post("/api/datasources/video", files={"file": (file_name, body)}, data=form)

    cases = [
        (post("notes.mp4", text.read_bytes()), 422, "notes.mp4"),
        (post("half.mp4", CAR.read_bytes()[:1_000_000]), 422, "truncated"),
        (post("empty.mp4", b""), 400, "empty"),
        (post("car.mp4", CAR.read_bytes() * 2), 413, "limit"),
        (post("car.mp4", CAR.read_bytes()[:2048], name="../../etc"), 422, ""),
        (post("car.mp4", CAR.read_bytes()[:2048], name="Bad Name"), 422, ""),
        (post("car.mp4", CAR.read_bytes()[:2048], mode="file"), 422, ""),
        (post("!!!.mp4", CAR.read_bytes()[:2048]), 400, "give `name`"),
        # a path in the file name is only a name: the upload lands nowhere but the dataset root
        (post("../../evil.mp4", b"\0" * 4096), 422, "evil.mp4"),
        (post("synthetic.mp4", CAR.read_bytes()[:2048]), 409, "exists already"),
    ]
    for response, status, words in cases:
        assert response.status_code == status, response.text
        assert words in response.json()["error"]["message"], response.text
    assert c.get("/api/datasources").json() == before_configs
    assert sorted(p.name for p in platform.root.iterdir()) == before_datasets
    assert not list(tmp_path.rglob("evil*"))


def test_without_a_datasource_service_a_video_is_a_clear_503(tmp_path: Path) -> None:
    app = backend_app(tmp_path, None)
    with serve(app) as url, httpx.Client(base_url=url, headers=auth(), timeout=30) as c:  # type: ignore[arg-type]
        response = c.post("/api/datasources/video", files={"file": ("car.mp4", CAR.read_bytes()[:4096])})
        assert response.status_code == 503 and "datasource service" in response.json()["error"]["message"]
        assert [d["id"] for d in c.get("/api/datasources").json()] == ["synthetic"]


@pytest.mark.parametrize(
    ("entry", "reference"),
    [
        ({"id": "a", "mode": "http", "dataset": "synthetic"}, "ground_truth"),
        ({"id": "a", "mode": "http", "dataset": "synthetic", "ground_truth": False}, "golden"),
        ({"id": "a", "mode": "rtsp", "dataset": "synthetic"}, "golden"),
        ({"id": "a", "mode": "http", "url": "http://cam/x"}, "golden"),
        ({"id": "a", "mode": "file", "path": "/videos/a.mp4"}, "golden"),
    ],
)
def test_what_accuracy_is_measured_against(entry: dict[str, object], reference: str) -> None:
    assert SourceEntry.model_validate(entry).accuracy_reference == reference


def test_ground_truth_cannot_be_claimed_where_none_travels() -> None:
    with pytest.raises(ValueError, match="ground_truth: true"):
        SourceEntry.model_validate({"id": "a", "mode": "rtsp", "dataset": "synthetic", "ground_truth": True})
