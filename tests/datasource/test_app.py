"""The datasource service on loopback (real uvicorn, real H.264 clips) and the generator's http source hook."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import services.generator.source  # noqa: F401  (declares the source family)
from common.errors import TransportError
from common.registry import REGISTRY
from common.segment_wire import decode_segment
from tests import loopback
from tests.datasource.server import TOKEN, auth, open_source

pytestmark = pytest.mark.integration


def segment(url: str, source: str, **params: object) -> tuple[dict, list]:
    response = loopback.get(f"{url}/streams/{source}/segment", params=params, headers=auth(), timeout=30)
    assert response.status_code == 200, response.text
    header, images = decode_segment(response.content)
    return header.model_dump(), images


def test_open_info_and_segments_paced_at_source_fps(served: str) -> None:
    assert open_source(served, "cam-a", dataset="tiny").status_code == 200
    info = loopback.get(f"{served}/streams/cam-a", headers=auth()).json()
    assert (info["width"], info["height"], info["fps"], info["frames"]) == (320, 192, 30.0, 12)
    assert info["ground_truth"] is True and info["play"] == "cycle"
    started = time.monotonic()
    header, images = segment(served, "cam-a", client="g1", frames=6)
    header2, _ = segment(served, "cam-a", client="g1", frames=6)
    elapsed = time.monotonic() - started
    assert [f["index"] for f in header["frames"]] == [0, 1, 2, 3, 4, 5]
    assert [f["index"] for f in header2["frames"]] == [6, 7, 8, 9, 10, 11]  # across the clip boundary
    assert elapsed >= 12 / 30 - 0.05  # 12 frames of a 30 fps camera cannot arrive sooner
    assert len(images) == 6 and images[0].shape == (192, 320, 3)
    assert all(isinstance(f["truth"]["objects"], list) for f in header["frames"])
    # cycle: the dataset loops, timestamps keep growing
    header3, _ = segment(served, "cam-a", client="g1", frames=3)
    assert [f["index"] for f in header3["frames"]] == [0, 1, 2]
    assert header3["frames"][0]["timestamp"] == pytest.approx(12 / 30)
    assert header3["finished"] is False


def test_planned_fps_skips_frames_at_the_source(served: str) -> None:
    open_source(served, "cam-b", dataset="tiny")
    header, images = segment(served, "cam-b", client="slow", frames=4, fps=10)
    assert [f["index"] for f in header["frames"]] == [0, 3, 6, 9] and len(images) == 4


def test_once_source_says_it_has_finished(served: str) -> None:
    open_source(served, "cam-once", dataset="tiny", play="once")
    header, _ = segment(served, "cam-once", client="c", frames=8)
    assert len(header["frames"]) == 8 and header["finished"] is False
    header, _ = segment(served, "cam-once", client="c", frames=8)
    assert [f["index"] for f in header["frames"]] == [8, 9, 10, 11] and header["finished"] is True
    header, images = segment(served, "cam-once", client="c", frames=8)
    assert header["frames"] == [] and images == [] and header["finished"] is True


def test_resolution_knob_scales_frames_and_truth(served: str) -> None:
    open_source(served, "cam-small", dataset="tiny", resolution="160x96")
    header, images = segment(served, "cam-small", client="c", frames=2)
    assert images[0].shape == (96, 160, 3)
    for frame in header["frames"]:
        for obj in frame["truth"]["objects"]:
            assert obj["box"][2] <= 160 and obj["box"][3] <= 96


def test_two_generators_get_their_own_frames_at_the_same_time(served: str) -> None:
    """Two http source hooks (as two generators would hold them) read one source concurrently."""
    open_source(served, "cam-shared", dataset="tiny", play="once")
    seen: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def generator(name: str) -> None:
        try:
            source = REGISTRY.create(
                "source", "http", {"url": f"{served}/streams/cam-shared", "client": name, "frames": 3, "token": TOKEN}
            )
            meta = source.open()
            assert (meta.width, meta.height, meta.fps) == (320, 192, 30.0)
            assert source.paced
            indices = []
            while (frame := source.read()) is not None:
                assert frame.image.shape == (192, 320, 3) and frame.truth is not None
                indices.append(frame.index)
            source.close()
            seen[name] = indices
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=generator, args=(n,)) for n in ("gen-1", "gen-2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert seen == {"gen-1": list(range(12)), "gen-2": list(range(12))}


def test_http_source_rate_hint_and_truth_travel(served: str) -> None:
    open_source(served, "cam-hint", dataset="tiny")
    source = REGISTRY.create("source", "http", {"url": f"{served}/streams/cam-hint", "frames": 2, "token": TOKEN})
    source.open()
    source.set_rate_hint(15)
    frames = [source.read() for _ in range(4)]
    source.close()
    assert [f.index for f in frames if f] == [0, 2, 4, 6]
    assert frames[1] is not None and frames[1].timestamp == pytest.approx(2 / 30, abs=1e-5)


def test_bad_requests_get_clear_4xx_and_change_nothing(served: str, tmp_path: Path) -> None:
    open_source(served, "cam-c", dataset="tiny")
    get = lambda path, **p: loopback.get(f"{served}{path}", params=p, headers=auth(), timeout=10)  # noqa: E731
    r = get("/streams/cam-c/segment", frames=0)
    assert r.status_code == 400 and "frames must be between" in r.json()["error"]["message"]
    r = get("/streams/nope/segment")
    assert r.status_code == 404 and "not open" in r.json()["error"]["message"]
    r = open_source(served, "cam-d", dataset="missing-set")
    assert r.status_code == 404 and "missing-set" in r.json()["error"]["message"]
    r = open_source(served, "cam-d", dataset="tiny", url="rtsp://x/y")
    assert r.status_code == 400 and "exactly one" in r.json()["error"]["message"]
    r = open_source(served, "cam-d", dataset="../etc")
    assert r.status_code == 400
    r = open_source(served, "Bad Id", dataset="tiny")
    assert r.status_code in (400, 404)
    assert loopback.get(f"{served}/streams", timeout=10).status_code == 401
    ids = {s["id"] for s in loopback.get(f"{served}/streams", headers=auth()).json()}
    assert "cam-d" not in ids and "cam-c" in ids
    # the source still plays after all that
    header, _ = segment(served, "cam-c", client="after", frames=1)
    assert header["frames"][0]["index"] == 0


def test_close_ends_the_stream_for_its_readers(served: str) -> None:
    open_source(served, "cam-e", dataset="tiny")
    source = REGISTRY.create("source", "http", {"url": f"{served}/streams/cam-e", "token": TOKEN, "retries": 0})
    source.open()
    assert source.read() is not None
    assert loopback.post(f"{served}/streams/cam-e/close", headers=auth()).json()["closed"] is True
    with pytest.raises(TransportError, match="not open"):
        while source.read() is not None:
            pass
    source.close()
