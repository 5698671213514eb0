"""Playback of one source to many clients, each with its own cursor, paced at the source's frame rate.

Every client (a generator, named by ``client``) replays the source from its first request on: frame
``p`` of its playback becomes available ``p / fps`` seconds after that request, as from a camera that
started then. A client that asks faster waits; one that falls behind catches up without losing frames
(replays stay identical). In ``cycle`` mode the dataset loops (timestamps keep growing); in ``once``
mode the playback ends and the last segment says ``finished``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from common.errors import DecodeError, InvalidInput
from datasource.config import SourceSpec, parse_resolution
from datasource.manifest import CLIPS, Manifest, load_ground_truth, load_manifest

MAX_FRAMES_PER_SEGMENT = 120


@dataclass
class SegmentFrame:
    index: int
    timestamp: float
    image: np.ndarray
    truth: dict[str, Any] | None


@dataclass
class Segment:
    frames: list[SegmentFrame]
    finished: bool


class ClipReader:
    """Sequential decoder over the dataset's clips (or one URL); grabs skipped frames without decoding them."""

    def __init__(self, clips: list[tuple[str, int, int]]) -> None:
        self.clips = clips  # (path or url, first source index, frame count or 0 = unknown)
        self.cap: cv2.VideoCapture | None = None
        self.clip = -1
        self.next_index = 0

    def _open(self, clip: int) -> None:
        if self.cap is not None:
            self.cap.release()
        self.cap = cv2.VideoCapture(self.clips[clip][0])
        if not self.cap.isOpened():
            raise DecodeError(f"cannot open {self.clips[clip][0]}")
        self.clip = clip
        self.next_index = self.clips[clip][1]

    def _clip_of(self, index: int) -> int:
        for n, (_, start, count) in enumerate(self.clips):
            if count == 0 or start <= index < start + count:
                return n
        raise InvalidInput(f"frame {index} is past the end of the source")

    def read(self, index: int) -> np.ndarray | None:
        """Frame ``index`` (source numbering), or None when a stream of unknown length has ended."""
        clip = self._clip_of(index)
        if clip != self.clip or index < self.next_index:
            self._open(clip)
        assert self.cap is not None
        while self.next_index < index:
            if not self.cap.grab():
                return None
            self.next_index += 1
        ok, image = self.cap.read()
        self.next_index += 1
        return image if ok else None

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None


@dataclass
class Client:
    reader: ClipReader
    started: float | None = None
    position: float = 0.0
    finished: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_used: float = field(default_factory=time.monotonic)


class Stream:
    """One source being served: its origin, native properties and per-client playbacks."""

    def __init__(self, spec: SourceSpec, root: Path, *, max_clients: int = 16) -> None:
        self.spec = spec
        self.max_clients = max_clients
        self.truth: dict[int, dict[str, Any]] = {}
        self.manifest: Manifest | None = None
        if spec.dataset is not None:
            directory = root / spec.dataset
            self.manifest = load_manifest(directory)
            self.truth = load_ground_truth(directory, self.manifest)
            self.clips = [(str(directory / CLIPS / c.file), c.start or 0, c.frames or 0) for c in self.manifest.clips]
            self.total = self.manifest.total_frames
            native = (self.manifest.width or 0, self.manifest.height or 0)
            native_fps = self.manifest.fps or 30.0
        else:
            assert spec.url is not None
            self.clips = [(spec.url, 0, 0)]
            self.total = 0  # unknown: a live stream or a file played to its end
            native, native_fps = self._probe_url(spec.url)
        self.source_size = native
        self.size = parse_resolution(spec.resolution) if spec.resolution else native
        self.fps = spec.fps or native_fps
        self.clients: OrderedDict[str, Client] = OrderedDict()
        self.lock = threading.Lock()
        self.opened_at = time.time()

    @staticmethod
    def _probe_url(url: str) -> tuple[tuple[int, int], float]:
        cap = cv2.VideoCapture(url)
        try:
            if not cap.isOpened():
                raise InvalidInput(f"cannot open source URL {url}")
            size = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            return size, float(cap.get(cv2.CAP_PROP_FPS)) or 30.0
        finally:
            cap.release()

    def info(self) -> dict[str, Any]:
        width, height = self.size
        return {
            "id": self.spec.id,
            "mode": self.spec.mode,
            "play": self.spec.play,
            "dataset": self.spec.dataset,
            "url": self.spec.url,
            "width": width,
            "height": height,
            "resolution": self.spec.resolution or f"{height}p",
            "fps": self.fps,
            "frames": self.total or None,
            "ground_truth": bool(self.truth),
            "clients": list(self.clients),
        }

    def client(self, name: str) -> Client:
        with self.lock:
            client = self.clients.get(name)
            if client is None:
                while len(self.clients) >= self.max_clients:  # bounded: the least recently used reader goes
                    _, old = self.clients.popitem(last=False)
                    old.reader.close()
                client = Client(reader=ClipReader(self.clips))
                self.clients[name] = client
            self.clients.move_to_end(name)
            client.last_used = time.monotonic()
            return client

    def reset(self, name: str) -> None:
        with self.lock:
            client = self.clients.pop(name, None)
        if client is not None:
            client.reader.close()

    def plan(self, client: Client, count: int, fps: float | None) -> tuple[list[int], float]:
        """Playback positions of the next ``count`` frames at ``fps``, and when the last one is live."""
        if not 1 <= count <= MAX_FRAMES_PER_SEGMENT:
            raise InvalidInput(f"frames must be between 1 and {MAX_FRAMES_PER_SEGMENT}, got {count}")
        if fps is not None and not 0 < fps <= 240:
            raise InvalidInput(f"fps must be in (0, 240], got {fps}")
        step = max(1.0, self.fps / fps) if fps else 1.0
        positions = [math.floor(client.position + k * step + 1e-9) for k in range(count)]
        if self.total and self.spec.play == "once":
            positions = [p for p in positions if p < self.total]
        client.position += count * step
        if client.started is None:
            client.started = time.monotonic()
        last = positions[-1] if positions else 0
        return positions, client.started + (last + 1) / self.fps

    def read_segment(self, client: Client, positions: list[int]) -> Segment:
        frames: list[SegmentFrame] = []
        for p in positions:
            index = p % self.total if self.total else p
            image = client.reader.read(index)
            if image is None:
                client.finished = True
                break
            if (image.shape[1], image.shape[0]) != self.size:
                image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
            frames.append(SegmentFrame(index=index, timestamp=p / self.fps, image=image, truth=self._truth(index)))
        if self.total and self.spec.play == "once" and client.position >= self.total:
            client.finished = True
        return Segment(frames=frames, finished=client.finished)

    def _truth(self, index: int) -> dict[str, Any] | None:
        entry = self.truth.get(index)
        if entry is None or not self.truth:
            return None
        if self.size == self.source_size:
            return entry
        sx, sy = self.size[0] / self.source_size[0], self.size[1] / self.source_size[1]
        objects = []
        for obj in entry["objects"]:
            x1, y1, x2, y2 = obj["box"]
            objects.append({**obj, "box": [round(x1 * sx, 1), round(y1 * sy, 1), round(x2 * sx, 1), round(y2 * sy, 1)]})
        return {"objects": objects}

    def close(self) -> None:
        with self.lock:
            for client in self.clients.values():
                client.reader.close()
            self.clients.clear()
