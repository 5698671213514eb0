"""``http`` source: a simulated camera of the datasource service (docs/datasource.md).

Asks ``GET <url>/segment`` for its next frames with its own client id and the planned fps (frames the
plan would drop are skipped at the datasource, saving bandwidth); the datasource paces the answers at
the source fps, so this source is ``paced``. Frames come with their source index, timestamp and ground
truth; each image is decoded when its frame is read, and a skipped frame's never is. A ``once`` source
that has played out says ``finished``; :meth:`read` then returns None.

Calls go through :class:`common.transport.ServiceClient` (bounded retries, timeouts) on a private
event loop, because sources are read from a worker thread and their calls block.
"""

from __future__ import annotations

import asyncio
import collections
import os
import uuid
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, Field

from common.contracts.datasource import ClientReset, StreamInfo
from common.errors import InvalidInput
from common.registry import HookConfig, hook
from common.segment_wire import WireFrame, decode_image, split_segment
from common.task import RawMeta
from common.transport import Reply, ServiceClient, parse_reply
from services.generator.source import FAMILY, NO_IMAGE, Frame, FrameSource


class HttpSourceConfig(HookConfig):
    url: str = Field(pattern=r"^https?://", description="The stream: http://datasource:port/streams/<source id>.")
    client: str | None = Field(None, max_length=128, description="Client id (own playback); default: a random one.")
    frames: int = Field(4, ge=1, le=120, description="Frames asked for per request.")
    quality: int = Field(90, ge=10, le=100, description="JPEG quality of the transfer.")
    format: str = Field("jpeg", pattern="^(jpeg|png)$", description="Image format of the transfer (png: lossless).")
    token: str | None = Field(None, description="Token the stream asks for; default: none (see `platform`).")
    platform: bool = Field(
        False,
        description="The URL is the platform's own datasource service: send it the platform token ($DAYU_TOKEN) "
        "when `token` is unset. Off for anything else (a camera must never see the platform token).",
    )
    timeout_s: float = Field(40.0, gt=0, le=600, description="Per request (the datasource may pace for a while).")
    retries: int = Field(3, ge=0, le=20, description="Retries of a failed request.")
    restart: bool = Field(True, description="Start this client's playback from the first frame on open.")


M = TypeVar("M", bound=BaseModel)


@hook(FAMILY, "http")
class HttpSource(FrameSource):
    """Frames from the datasource service over HTTP, with their ground truth."""

    Config = HttpSourceConfig
    config: HttpSourceConfig

    def __init__(self, config: HttpSourceConfig) -> None:
        super().__init__(config)
        self.base = config.url.rstrip("/")
        self.client_id = config.client or f"gen-{uuid.uuid4().hex[:12]}"
        self.rate: float | None = None
        self.buffer: collections.deque[tuple[WireFrame, np.ndarray]] = collections.deque()
        """Frames fetched and not yet handed over, each with its still encoded image."""
        self.finished = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.http: ServiceClient | None = None

    def _call(self, method: str, path: str, **kwargs: Any) -> Reply:
        if self.loop is None or self.http is None:
            raise InvalidInput("the http source is not open")
        return self.loop.run_until_complete(self.http.request(method, self.base + path, **kwargs))

    def _model(self, method: str, path: str, model: type[M], **kwargs: Any) -> M:
        return parse_reply(self._call(method, path, **kwargs), model)

    def open(self) -> RawMeta:
        self.loop = asyncio.new_event_loop()
        token = self.config.token or (os.environ.get("DAYU_TOKEN") if self.config.platform else None) or None
        self.http = ServiceClient(timeout=self.config.timeout_s, retries=self.config.retries, token=token)
        if self.config.restart:
            self._model("POST", "/reset", ClientReset, params={"client": self.client_id}, idempotent=True)
        info = self._model("GET", "", StreamInfo)
        return RawMeta(
            resolution=info.resolution,
            width=info.width,
            height=info.height,
            fps=info.fps,
            encoding=self.config.format,
        )

    def set_rate_hint(self, fps: float) -> None:
        self.rate = fps if fps > 0 else None

    def delivered_fps(self, native_fps: float) -> float:
        # The datasource already dropped frames down to the rate hint: filtering again would compound it.
        return min(native_fps, self.rate) if self.rate else native_fps

    @property
    def paced(self) -> bool:
        return True

    def _fetch(self) -> None:
        params: dict[str, str] = {
            "client": self.client_id,
            "frames": str(self.config.frames),
            "format": self.config.format,
            "quality": str(self.config.quality),
        }
        if self.rate is not None:
            params["fps"] = f"{self.rate:g}"
        # Each GET advances this client's cursor, so it is not retried blindly after the server got it.
        response = self._call("GET", "/segment", params=params, idempotent=False)
        header, blobs = split_segment(response.content)
        self.buffer.extend(zip(header.frames, blobs, strict=True))  # split_segment checked the counts
        self.finished = header.finished

    def _next(self, decode: bool) -> Frame | None:
        while not self.buffer:
            if self.finished:
                return None
            self._fetch()
        entry, blob = self.buffer.popleft()
        if decode:
            image = decode_image(blob, f"frame {entry.index} of the stream")
            self.images_decoded += 1
        else:
            image = NO_IMAGE
            self.frames_skipped += 1
        return Frame(image=image, index=entry.index, timestamp=entry.timestamp, truth=entry.truth)

    def read(self) -> Frame | None:
        return self._next(decode=True)

    def skip(self) -> Frame | None:
        return self._next(decode=False)

    def close(self) -> None:
        if self.loop is not None:
            if self.http is not None:
                self.loop.run_until_complete(self.http.aclose())
            self.loop.close()
        self.loop, self.http = None, None
