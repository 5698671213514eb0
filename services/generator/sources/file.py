"""``file`` source: a local video file read with OpenCV, optionally looping, with optional ground truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import Field

from common.errors import ConfigError, Unavailable
from common.registry import HookConfig, hook
from common.task import RawMeta
from services.generator.processes.resize import resolution_name
from services.generator.source import FAMILY, NO_IMAGE, Frame, FrameSource


class FileSourceConfig(HookConfig):
    path: str = Field(min_length=1, description="Video file to read.")
    loop: bool = Field(False, description="Start again at the first frame when the file ends.")
    max_loops: int | None = Field(None, ge=1, description="Stop after this many passes when looping (none: forever).")
    fps: float | None = Field(None, gt=0, le=240, description="Override of the file's frame rate (for pacing).")
    truth_path: str | None = Field(
        None, description="JSON file with per-frame ground truth: a list (by frame index) or an object keyed by index."
    )


def _load_truth(path: str) -> dict[int, dict[str, Any]]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read ground truth {path}: {exc}") from None
    if isinstance(data, list):
        return {i: entry for i, entry in enumerate(data) if isinstance(entry, dict)}
    if isinstance(data, dict):
        return {int(k): v for k, v in data.items() if str(k).isdigit() and isinstance(v, dict)}
    raise ConfigError(f"ground truth {path} must be a JSON list or object")


@hook(FAMILY, "file")
class FileSource(FrameSource):
    """Frames of a local video file; the generator paces them to real time when asked."""

    Config = FileSourceConfig

    config: FileSourceConfig

    def __init__(self, config: FileSourceConfig) -> None:
        super().__init__(config)
        self._cap: cv2.VideoCapture | None = None
        self._fps = 30.0
        self._position = 0
        self._passes = 0
        self._count = 0
        self._truth: dict[int, dict[str, Any]] = {}

    def open(self) -> RawMeta:
        path = Path(self.config.path)
        if not path.is_file():
            raise Unavailable(f"video file {path} does not exist")
        self._cap = cv2.VideoCapture(str(path))
        if not self._cap.isOpened():
            raise Unavailable(f"OpenCV cannot open video file {path}")
        if self.config.truth_path:
            self._truth = _load_truth(self.config.truth_path)
        native = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self._fps = self.config.fps or (native if 0 < native <= 240 else 30.0)
        width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        return RawMeta(
            width=width or None,
            height=height or None,
            fps=self._fps,
            resolution=resolution_name(height) if height else None,
            encoding="file",
        )

    def _next(self, decode: bool) -> Frame | None:
        """The next frame; its image only when ``decode`` (grab alone demuxes and decodes in the codec, which
        the next frames need as references, but skips the conversion to BGR and the copy)."""
        if self._cap is None:
            raise Unavailable("the file source is not open")
        if not self._cap.grab():
            self._passes += 1
            if not self.config.loop or (self.config.max_loops is not None and self._passes >= self.config.max_loops):
                return None
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            if not self._cap.grab():
                return None
            self._position = 0
        image: np.ndarray = NO_IMAGE
        if decode:
            ok, retrieved = self._cap.retrieve()
            if not ok or retrieved is None:
                return None
            image = retrieved
            self.images_decoded += 1
        else:
            self.frames_skipped += 1
        index = self._position
        # Source time keeps growing across loops so pacing and re-planning see a continuous stream.
        timestamp = self._count / self._fps
        self._position += 1
        self._count += 1
        return Frame(image=image, index=index, timestamp=timestamp, truth=self._truth.get(index))

    def read(self) -> Frame | None:
        return self._next(decode=True)

    def skip(self) -> Frame | None:
        return self._next(decode=False)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
