"""Datasource config: named sources (a dataset or a URL), how they are served and played; and settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from common.config import ServiceSettings

SOURCE_ID = r"^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$"
RESOLUTIONS = {
    "2160p": (3840, 2160),
    "1080p": (1920, 1080),
    "720p": (1280, 720),
    "480p": (854, 480),
    "360p": (640, 360),
    "240p": (426, 240),
}


def parse_resolution(value: str) -> tuple[int, int]:
    """``720p`` or ``1280x720`` -> (width, height)."""
    if value in RESOLUTIONS:
        return RESOLUTIONS[value]
    parts = value.lower().split("x")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        w, h = int(parts[0]), int(parts[1])
        if 16 <= w <= 7680 and 16 <= h <= 4320:
            return w, h
    raise ValueError(f"resolution {value!r} is neither one of {', '.join(RESOLUTIONS)} nor WIDTHxHEIGHT")


class SourceSpec(BaseModel):
    """One simulated camera."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=SOURCE_ID, max_length=40, description="Source id; its stream is /streams/<id>.")
    name: str = Field("", description="Human name.")
    description: str = Field("", description="What it shows.")
    mode: Literal["http", "rtsp"] = Field("http", description="Served as HTTP segments or as an RTSP stream.")
    play: Literal["cycle", "once"] = Field("cycle", description="Loop the dataset, or play it once and say so.")
    dataset: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Dataset under the root.")
    url: str | None = Field(None, description="A stream or file OpenCV can open, relayed instead of a dataset.")
    resolution: str | None = Field(None, description="Native resolution served (720p or WxH); default: the dataset's.")
    fps: float | None = Field(None, gt=0, le=240, description="Native frame rate served; default: the dataset's.")
    node_candidates: list[str] = Field(default_factory=list, description="Edge nodes it may attach to (control plane).")

    @model_validator(mode="after")
    def _one_origin(self) -> SourceSpec:
        if (self.dataset is None) == (self.url is None):
            raise ValueError("give exactly one of `dataset` and `url`")
        if self.mode == "rtsp" and self.url is not None:
            raise ValueError("mode 'rtsp' serves a dataset; a URL source is already a stream")
        return self

    @field_validator("resolution")
    @classmethod
    def _resolution(cls, value: str | None) -> str | None:
        if value is not None:
            parse_resolution(value)
        return value


class DatasourceConfig(BaseModel):
    """A datasource config file: a named set of sources."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("datasource", description="Datasource id.")
    description: str = Field("", description="What the sources show.")
    sources: list[SourceSpec] = Field(min_length=1, max_length=64, description="The sources.")

    @field_validator("sources")
    @classmethod
    def _unique(cls, sources: list[SourceSpec]) -> list[SourceSpec]:
        ids = [s.id for s in sources]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate source ids: {', '.join(dupes)}")
        return sources


class DatasourceSettings(ServiceSettings):
    """``DAYU_*`` settings of the datasource service."""

    port: int = 8901
    root: Path = Field(Path(".dayu/datasets"), description="Directory holding the datasets.")
    config: str | None = Field(None, description="Datasource config file opened at start (optional).")
    max_clients: int = Field(16, ge=1, le=1024, description="Readers kept per source (least recently used go).")
    max_wait_s: float = Field(30.0, gt=0, le=600, description="Longest a segment request may wait for its frames.")
    rtsp_python: str = Field("/usr/bin/python3", description="System Python with GStreamer bindings (python3-gi).")
    max_video_bytes: int = Field(
        256 * 1024 * 1024,
        ge=1024,
        description="Largest video file `PUT /datasets/{name}` accepts (the guard's `max_body_bytes` caps it too).",
    )
    max_video_frames: int = Field(108_000, ge=1, description="Most frames an added video may hold (1 h at 30 fps).")
