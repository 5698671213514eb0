"""Catalogs: policies, services, nodes, the default visualization views; DAGs and datasource configs."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import UploadFile
from pydantic import BaseModel, ConfigDict, Field, RootModel

from backend.datasource_config import ID_PATTERN, DatasourceConfig
from backend.templates import PolicySpec, ServiceSpec, VisualizationSpec
from common.contracts.datasource import DatasetAdded
from common.dag import DagSpec


class PolicyInfo(PolicySpec):
    default: bool = Field(description="The template's default policy.")
    available: bool = Field(True, description="Whether this install can run the policy's scheduler agent.")
    unavailable_reason: str | None = Field(
        None, description="Why it cannot (a plugin whose optional dependency is missing here), and what to install."
    )


class NodeInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    role: str = Field(description="cloud or edge.")
    arch: str = Field(description="CPU architecture, e.g. amd64, arm64.")
    labels: dict[str, str] = Field(default_factory=dict)
    cpu: float | None = Field(None, description="Fraction of CPU in use (0-1), when installed.")
    memory: float | None = Field(None, description="Fraction of memory in use (0-1), when installed.")
    cpu_quota: float | None = Field(None, description="Cores the node may use (its CPU quota); null: unlimited.")
    cpu_quota_enforced: bool | None = Field(
        None, description="Whether the kernel enforces the quota (a cgroup); null: no quota, or not installed yet."
    )
    cpu_quota_note: str | None = Field(None, description="Why the quota is not enforced, where it is not.")


class ViewCatalog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    result: list[VisualizationSpec] = Field(description="Default views of a source's results.")
    system: list[VisualizationSpec] = Field(description="Views of the system page.")


class DagRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="DAG name.")
    stages: DagSpec = Field(description="Stages and edges.")


class DagNode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str
    next: list[str] = Field(description="Stages that follow.")


class DagInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    spec: DagSpec = Field(description="The DAG as written.")
    dag: dict[str, DagNode] = Field(description="Stage -> service and successors, sentinels `_start`/`_end` included.")


class Deleted(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deleted: str = Field(description="Name or id of what was deleted.")


class DatasourceRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="The config's `name`.")
    file_name: str = Field(description="File it was uploaded as.")
    config: DatasourceConfig = Field(description="The validated config (sources, datasets, modes).")
    created: float


class DatasourceInfo(DatasourceRecord):
    open: bool = Field(description="Its sources are playing.")
    installed: bool = Field(description="It is part of the install.")


class UploadResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str
    ok: bool
    id: str | None = Field(None, description="Datasource config id, when stored.")
    sources: list[str] = Field(default_factory=list, description="Its source ids, when stored.")
    error: str | None = Field(None, description="Why it was refused (file:line: field: problem).")
    detail: Any = None


class UploadReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    results: list[UploadResult] = Field(description="One per file, in upload order.")
    ok: bool = Field(description="Every file was stored.")


class PolicyList(RootModel[list[PolicyInfo]]):
    """``GET /api/policies``."""


class ServiceList(RootModel[list[ServiceSpec]]):
    """``GET /api/services``."""


class NodeList(RootModel[list[NodeInfo]]):
    """``GET /api/nodes``."""


class DagList(RootModel[list[DagInfo]]):
    """``GET /api/dags``."""


class DatasourceList(RootModel[list[DatasourceInfo]]):
    """``GET /api/datasources``."""


class DatasourceUpload(BaseModel):
    """``POST /api/datasources``: one or more datasource config files (YAML), as multipart form data."""

    model_config = ConfigDict(extra="forbid")

    files: list[UploadFile] = Field(description="YAML files, one datasource config each.")


class VideoUpload(BaseModel):
    """``POST /api/datasources/video``: a video file, as multipart form data. It becomes a dataset of the
    datasource service and a datasource config with one source playing it; it has no ground truth."""

    model_config = ConfigDict(extra="forbid")

    file: UploadFile = Field(description="The video: any file FFmpeg decodes (stored as H.264 MP4).")
    name: str | None = Field(
        None,
        pattern=ID_PATTERN,
        max_length=40,
        description="Id of the datasource config, of its source and of the dataset; default: from the file name.",
    )
    mode: Literal["http", "rtsp"] = Field("http", description="How the datasource serves it.")
    description: str = Field("", max_length=500, description="What the video shows.")


class VideoAdded(BaseModel):
    model_config = ConfigDict(extra="forbid")

    datasource: DatasourceRecord = Field(description="The datasource config made for the video.")
    dataset: DatasetAdded = Field(description="The dataset the datasource service stored.")


class TraceInfo(BaseModel):
    """A bandwidth trace of the installed template (``traces/<name>.csv``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="What an install names it by (`trace`).")
    duration_s: float = Field(ge=0, description="Length of one pass, seconds (0: a constant link).")
    min_mbps: float = Field(
        ge=0, description="Slowest rate of the trace, Mbit/s (0: it has outages, seconds the link carries nothing)."
    )
    max_mbps: float = Field(gt=0, description="Fastest rate of the trace, Mbit/s.")
    rows: int = Field(ge=1, description="Rate changes in one pass.")
    delay: bool = Field(description="The trace sets the one-way delay too (a `delay_ms` column).")


class TraceProblem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    error: str = Field(description="Why the file is not a usable trace.")


class TraceList(BaseModel):
    """``GET /api/traces``: what an install may name as its link trace."""

    model_config = ConfigDict(extra="forbid")

    supported: bool = Field(description="This runtime makes links follow a trace (the local runtime).")
    custom_files: bool = Field(
        description="Besides these names, an install may give the path of a CSV file on the backend's machine."
    )
    traces: list[TraceInfo] = Field(description="Traces of the installed template, by name.")
    invalid: list[TraceProblem] = Field(default_factory=list, description="Files of the folder that do not parse.")
