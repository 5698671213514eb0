"""The golden reference of a clip: the service's most accurate configuration over every frame, once.

Where a clip has no ground truth, a policy's accuracy is scored against what the golden configuration
finds: every frame of the clip at the clip's own resolution (decoded once, neither scaled nor encoded
again), through the service's application with its golden model (``labeller.golden_model`` of the
service's processor template, the model the processor's golden labeller uses). The reference is computed
up front and cached per (clip content hash, service, golden configuration) under the cache folder, so a
second run on the same clip and service reads it back and another service computes its own. The golden
configuration includes a digest of the code that makes the reference (this module, the processor's offline tool,
applications and its labeller's model call) and of the OpenCV and NumPy versions that decode and run it,
so a reference made by other code is computed again rather than read back.

Each frame's entry has the ground truth's shape (``{"objects": [{"class", "box"}]}``, clip pixels), so
the project's scoring (:func:`common.accuracy.score_task`) reads golden and ground truth alike.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from backend.offline import PROCESSOR, run_tool
from backend.templates import load_template
from common.contracts.offline import GoldenReply, GoldenRequest
from common.errors import ConfigError

BATCH = 16
"""Frames per model call (bounds the memory the reference pass holds)."""

ROOT = Path(__file__).resolve().parents[2]


def code_files() -> list[Path]:
    """The sources a reference depends on: this module, the processor's offline tool that runs the model, the
    application base, the labeller's model call and every application (an application's module imports its
    neighbours: packaged models, shared support)."""
    processor = ROOT / "services" / "processor"
    return [
        Path(__file__).resolve(),
        processor / "offline.py",
        processor / "application.py",
        processor / "labeller.py",
        *sorted((processor / "applications").glob("*.py")),
    ]


def code_digest(files: Sequence[Path]) -> str:
    """SHA-256 prefix of ``files`` (path relative to the repository and content) and of the decoding and
    inference libraries' versions."""
    digest = hashlib.sha256(f"opencv {cv2.__version__} numpy {np.__version__}\n".encode())
    for path in files:
        name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        digest.update(f"{name}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@functools.cache
def _code() -> str:
    return code_digest(code_files())


class GoldenConfig(BaseModel):
    """What the reference was made with: part of its cache key and of ``results.json``."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(description="Service id whose application made the reference.")
    application: dict[str, Any] = Field(description="The application hook (alias and params) of its processor.")
    model: str | None = Field(description="The golden model (the labeller's golden_model; none: the default).")
    resolution: str = Field("source", description="Frames at the clip's own size, not scaled.")
    fps: str = Field("every frame", description="Every frame of the clip is processed.")
    code: str = Field(
        description="Digest of the code and library versions that made the reference (code_digest): other code, "
        "another cache entry."
    )


@dataclass(frozen=True)
class ClipInfo:
    path: Path
    frames: int
    fps: float
    width: int
    height: int
    sha256: str


@dataclass(frozen=True)
class Reference:
    config: GoldenConfig
    entries: list[dict[str, Any]]
    """Per clip frame, the golden detections in ground truth's shape."""
    path: Path
    computed: bool
    """True when this call ran the model; False when the cache held it."""

    @property
    def objects(self) -> int:
        """Objects in the whole reference (0: every policy that detects anything scores F1 0 against it)."""
        return sum(len(entry.get("objects") or []) for entry in self.entries)

    @property
    def frames_with_objects(self) -> int:
        return sum(1 for entry in self.entries if entry.get("objects"))


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def probe(path: Path) -> ClipInfo:
    """Frame count (counted by decoding: containers may announce a wrong one), rate and size of a clip."""
    if not path.is_file():
        raise ConfigError(f"clip {path} does not exist")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ConfigError(f"OpenCV cannot open the clip {path}")
    try:
        rate = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        frames = 0
        width = height = 0
        while capture.grab():
            frames += 1
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        capture.release()
    if frames == 0:
        raise ConfigError(f"the clip {path} holds no readable frame")
    return ClipInfo(path, frames, rate if 0 < rate <= 240 else 30.0, width, height, content_hash(path))


def golden_config(template_dir: str | Path, service: str) -> GoldenConfig:
    template = load_template(template_dir)
    spec = template.services.get(service)
    if spec is None:
        raise ConfigError(f"unknown service {service!r}; known: {', '.join(sorted(template.services))}")
    if spec.input != "frame":
        raise ConfigError(f"service {service} reads {spec.input}, not frames: it cannot head a one-stage DAG")
    processor = template.component(spec.template).config
    application = processor.get("application") or {}
    if "alias" not in application:
        raise ConfigError(f"the processor template of {service} names no application")
    model = (processor.get("labeller") or {}).get("golden_model")
    return GoldenConfig(service=service, application=dict(application), model=model, code=_code())


def cache_path(cache_dir: Path, clip: ClipInfo, config: GoldenConfig) -> Path:
    key = hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:12]
    return cache_dir / f"{clip.sha256[:16]}-{config.service}-{key}.json"


def compute(clip: ClipInfo, config: GoldenConfig) -> list[dict[str, Any]]:
    """The golden configuration over every frame of the clip (the processor's offline tool runs the model)."""
    request = GoldenRequest(application=config.application, model=config.model, clip=str(clip.path), batch=BATCH)
    return run_tool(PROCESSOR, "golden", request, GoldenReply).entries


def reference(template_dir: str | Path, clip: ClipInfo, service: str, cache_dir: Path) -> Reference:
    """The clip's golden reference for ``service``: from the cache, else computed and cached."""
    config = golden_config(template_dir, service)
    path = cache_path(cache_dir, clip, config)
    if path.is_file():
        stored = json.loads(path.read_text())
        if stored.get("golden") == config.model_dump(mode="json") and len(stored.get("entries", [])) == clip.frames:
            return Reference(config, stored["entries"], path, computed=False)
    print(
        f"bench-policies: golden reference of {clip.path.name} for {service} "
        f"({clip.frames} frames, model {config.model or 'default'}), once",
        file=sys.stderr,
        flush=True,
    )
    entries = compute(clip, config)
    if len(entries) != clip.frames:
        raise ConfigError(f"the golden pass read {len(entries)} frames of {clip.path}, the clip has {clip.frames}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    body = {
        "clip_sha256": clip.sha256,
        "clip": clip.path.name,
        "service": service,
        "golden": config.model_dump(mode="json"),
        "width": clip.width,
        "height": clip.height,
        "entries": entries,
    }
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(body))
    partial.replace(path)
    return Reference(config, entries, path, computed=True)
