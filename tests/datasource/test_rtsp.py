"""RTSP mode: the system-Python GStreamer server plays a dataset that OpenCV reads over RTSP on loopback.

Needs Debian's python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good and -bad; without
them the playback test is skipped, and the service must answer 503 naming those packages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest

from datasource.rtsp import PACKAGES, rtsp_support
from tests import loopback
from tests.datasource.server import auth, make_dataset, open_source, running_datasource

pytestmark = pytest.mark.integration

SUPPORT, WHY = rtsp_support("/usr/bin/python3")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("rtsp")
    make_dataset(path)
    yield path


@pytest.mark.skipif(not SUPPORT, reason=f"RTSP system packages absent: {WHY}")
def test_rtsp_stream_is_read_by_opencv(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with running_datasource(root) as url:
        r = open_source(url, "cam-rtsp", dataset="tiny", mode="rtsp")
        assert r.status_code == 200, r.text
        rtsp_url = r.json()["rtsp_url"]
        assert rtsp_url.startswith("rtsp://127.0.0.1:")
        monkeypatch.setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
        cap = cv2.VideoCapture(
            rtsp_url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 10000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 10000]
        )
        try:
            assert cap.isOpened()
            frames = [cap.read() for _ in range(5)]
        finally:
            cap.release()
        assert all(ok for ok, _ in frames)
        assert frames[0][1].shape == (192, 320, 3)
        segment = loopback.get(f"{url}/streams/cam-rtsp/segment", headers=auth(), timeout=10)
        assert segment.status_code == 409 and "RTSP" in segment.json()["error"]["message"]
        pid_holder = loopback.get(f"{url}/streams/cam-rtsp", headers=auth()).json()
        assert pid_holder["mode"] == "rtsp"
        assert loopback.post(f"{url}/streams/cam-rtsp/close", headers=auth()).json()["closed"] is True


def test_rtsp_without_the_system_packages_is_a_clear_503(root: Path) -> None:
    with running_datasource(root, rtsp_python=str(root / "no-python")) as url:
        r = open_source(url, "cam-rtsp", dataset="tiny", mode="rtsp")
        assert r.status_code == 503
        assert PACKAGES in r.json()["error"]["message"]
        assert loopback.get(f"{url}/streams", headers=auth()).json() == []
        assert open_source(url, "cam-http", dataset="tiny").status_code == 200  # everything else still works
