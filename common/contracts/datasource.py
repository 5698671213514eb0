"""The datasource's contracts: opening, inspecting and closing simulated cameras.

The segment body itself (``GET /streams/{id}/segment``) is :mod:`common.segment_wire`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, RootModel

from common.contracts.base import Contract
from common.strict import Number


class StreamOpen(Contract):
    """``POST /streams/{id}/open``: how to play a source (a source config's fields but its id, in the path)."""

    dataset: str | None = None
    url: str | None = None
    mode: Literal["http", "rtsp"] = Field("http", description="Served as HTTP segments or as an RTSP stream.")
    play: Literal["cycle", "once"] = Field("cycle", description="Loop the dataset, or play it once and say so.")
    resolution: str | None = None
    fps: Number | None = None


class StreamInfo(Contract):
    """A source being served: its native properties and its readers."""

    id: str
    mode: Literal["http", "rtsp"]
    play: Literal["cycle", "once"]
    dataset: str | None
    url: str | None
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    resolution: str
    fps: float = Field(gt=0)
    frames: int | None = Field(description="Frames in the dataset; None for a relayed stream.")
    ground_truth: bool
    clients: list[str] = Field(description="Readers, each with its own playback position.")
    rtsp_url: str | None = Field(description="Where an RTSP source is served; None over HTTP.")


class StreamList(RootModel[list[StreamInfo]]):
    """``GET /streams``."""


class StreamClosed(Contract):
    id: str
    closed: bool = Field(description="False when the source was not open.")


class ClientReset(Contract):
    id: str
    client: str
    reset: bool


class DatasetList(RootModel[list[str]]):
    """``GET /datasets``: dataset directories under the root."""


class DatasetAdded(Contract):
    """``PUT /datasets/{name}``: a video file stored as a dataset the sources can play."""

    name: str = Field(description="Dataset name (a source opens it with `dataset: <name>`).")
    file_name: str = Field(description="Name the file was uploaded under (informative only).")
    bytes: int = Field(ge=1, description="Size of the upload.")
    frames: int = Field(ge=1, description="Frames the clip holds.")
    fps: float = Field(gt=0, description="Native frame rate.")
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    ground_truth: bool = Field(
        description="False for an added video: accuracy on it is measured against the golden configuration."
    )
