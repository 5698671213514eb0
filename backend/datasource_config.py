"""Datasource configs: the sources (simulated cameras or real streams) a user can install DAGs on."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from common.config import parse_yaml_model
from common.errors import ConfigError

ID_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class SourceEntry(BaseModel):
    """One video source."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN, max_length=40, description="Source id, unique in the datasource.")
    name: str = Field("", description="Human name.")
    mode: Literal["http", "rtsp", "file", "camera"] = Field(
        "http", description="How the generator reads it (its source hook)."
    )
    dataset: str | None = Field(
        None, description="Dataset the datasource service plays for this source (http/rtsp simulated cameras)."
    )
    url: str | None = Field(None, description="Stream URL of a real camera; unset: the datasource service's URL.")
    path: str | None = Field(None, description="Video file path, for mode `file`.")
    node_candidates: list[str] = Field(
        default_factory=list, description="Edge nodes the source may be attached to; empty: any edge node."
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Extra parameters for the source hook.")
    ground_truth: bool | None = Field(
        None,
        description="Whether the source's frames carry ground truth. false: a real video, its accuracy is relative "
        "to the golden configuration; unset: a dataset served over HTTP has it, anything else has not.",
    )

    @property
    def accuracy_reference(self) -> Literal["ground_truth", "golden"]:
        """What the accuracy of this source's results is measured against (ground truth never travels over
        RTSP, and a real camera, file or added video has none)."""
        if self.ground_truth is False or self.mode != "http" or self.dataset is None or self.url is not None:
            return "golden"
        return "ground_truth"

    @model_validator(mode="after")
    def _where(self) -> SourceEntry:
        if self.mode == "file" and not self.path:
            raise ValueError("mode 'file' needs `path`")
        if self.mode in ("http", "rtsp") and not (self.url or self.dataset):
            raise ValueError(f"mode {self.mode!r} needs `url` or `dataset`")
        if self.mode == "camera" and "device" not in self.params:
            raise ValueError("mode 'camera' needs params.device")
        if self.ground_truth and self.accuracy_reference == "golden":
            raise ValueError("`ground_truth: true` needs a dataset served over HTTP (mode http, no url)")
        return self


class DatasourceConfig(BaseModel):
    """A datasource config file: a named set of sources."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=ID_PATTERN, max_length=40, description="Datasource id.")
    description: str = Field("", description="What the sources show.")
    sources: list[SourceEntry] = Field(min_length=1, max_length=64, description="The sources.")

    @model_validator(mode="after")
    def _unique(self) -> DatasourceConfig:
        ids = [s.id for s in self.sources]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate source ids: {', '.join(dupes)}")
        return self

    def source(self, source_id: str) -> SourceEntry:
        for s in self.sources:
            if s.id == source_id:
                return s
        raise ConfigError(f"datasource {self.name!r} has no source {source_id!r}")


def parse_datasource(text: str, file_name: str) -> DatasourceConfig:
    return parse_yaml_model(text, DatasourceConfig, source=file_name)
