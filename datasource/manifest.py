"""A dataset on disk: ``<root>/<dataset>/clips/*.mp4``, ``manifest.yaml`` and ``ground_truth.jsonl``.

The manifest lists the clips in play order with their frame counts and the source frame index each
clip starts at; counts missing from a hand-written manifest are probed from the files. A dataset
without a manifest is every ``clips/*.mp4`` in name order. Ground truth, when present, has one JSON
line per source frame: ``{"frame": i, "objects": [{"class", "box": [x1, y1, x2, y2], "text"?}]}`` in
source pixels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import yaml
from pydantic import BaseModel, ConfigDict, Field

from common.config import load_yaml_model
from common.errors import ConfigError, DecodeError, NotFound

MANIFEST = "manifest.yaml"
GROUND_TRUTH = "ground_truth.jsonl"
CLIPS = "clips"


class ClipEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str = Field(min_length=1, description="Clip file name under clips/.")
    frames: int | None = Field(None, ge=1, description="Frame count; probed from the file when missing.")
    start: int | None = Field(
        None, ge=0, description="Source index of the clip's first frame; running sum when missing."
    )


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("", description="Dataset name.")
    description: str = Field("", description="What the dataset shows.")
    fps: float | None = Field(None, gt=0, le=240, description="Native frame rate; probed when missing.")
    width: int | None = Field(None, ge=1, description="Native width; probed when missing.")
    height: int | None = Field(None, ge=1, description="Native height; probed when missing.")
    seed: int | None = Field(None, description="Seed a synthetic dataset was generated from.")
    clips: list[ClipEntry] = Field(default_factory=list, description="Clips in play order.")
    ground_truth: str | None = Field(None, description="Ground-truth file name (JSON lines), when present.")

    @property
    def total_frames(self) -> int:
        return sum(c.frames or 0 for c in self.clips)


def probe_clip(path: Path) -> tuple[int, float, int, int]:
    """Frame count, fps, width and height of a clip; a file OpenCV cannot read raises DecodeError."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise DecodeError(f"{path}: cannot be opened as video")
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or 30.0
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if count <= 0:  # some containers do not say: count by decoding
            count = 0
            while cap.grab():
                count += 1
        if count <= 0 or width <= 0:
            raise DecodeError(f"{path}: holds no decodable frame")
        return count, fps, width, height
    finally:
        cap.release()


def load_manifest(dataset_dir: Path) -> Manifest:
    """The dataset's manifest with every frame count, start index and native property filled in."""
    if not dataset_dir.is_dir():
        raise NotFound(f"dataset {dataset_dir} does not exist")
    path = dataset_dir / MANIFEST
    if path.exists():
        manifest = load_yaml_model(path, Manifest)
    else:
        files = sorted(p.name for p in (dataset_dir / CLIPS).glob("*.mp4"))
        gt = GROUND_TRUTH if (dataset_dir / GROUND_TRUTH).exists() else None
        manifest = Manifest(name=dataset_dir.name, clips=[ClipEntry(file=f) for f in files], ground_truth=gt)
    if not manifest.clips:
        raise ConfigError(f"{dataset_dir}: no clips (expected {CLIPS}/*.mp4 or a manifest listing them)")
    position = 0
    for clip in manifest.clips:
        clip_path = dataset_dir / CLIPS / clip.file
        if Path(clip.file).name != clip.file:
            raise ConfigError(f"{path}: clip {clip.file!r} must be a plain file name under {CLIPS}/")
        if not clip_path.exists():
            raise ConfigError(f"{path}: clip {clip.file!r} is missing from {dataset_dir / CLIPS}")
        if clip.frames is None or manifest.fps is None or manifest.width is None:
            count, fps, width, height = probe_clip(clip_path)
            clip.frames = clip.frames or count
            manifest.fps = manifest.fps or fps
            manifest.width, manifest.height = manifest.width or width, manifest.height or height
        if clip.start is None:
            clip.start = position
        position = clip.start + (clip.frames or 0)
    return manifest


def write_manifest(dataset_dir: Path, manifest: Manifest) -> Path:
    path = dataset_dir / MANIFEST
    data = manifest.model_dump(exclude_none=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def load_ground_truth(dataset_dir: Path, manifest: Manifest) -> dict[int, dict[str, Any]]:
    """Source frame index -> that frame's truth (``{"objects": [...]}``); empty when the dataset has none."""
    if not manifest.ground_truth:
        return {}
    path = dataset_dir / manifest.ground_truth
    if not path.exists():
        raise ConfigError(f"{dataset_dir / MANIFEST}: ground truth file {manifest.ground_truth!r} is missing")
    truth: dict[int, dict[str, Any]] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                truth[int(entry["frame"])] = {"objects": list(entry.get("objects", []))}
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(f"{path}:{number}: bad ground-truth line: {exc}") from None
    return truth
