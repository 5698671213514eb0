"""``opencv`` encoder: ``cv2.VideoWriter`` with a four-character codec (``mp4v`` by default)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from pydantic import Field

from common.errors import InvalidInput
from common.registry import HookConfig, hook
from common.task import Meta
from services.generator.encoder import FAMILY, Encoder, FrameSink


class OpenCVEncoderConfig(HookConfig):
    fourcc: str = Field("mp4v", min_length=4, max_length=4, description="Codec used when the plan names none.")


@hook(FAMILY, "opencv")
class OpenCVEncoder(Encoder):
    """The plan's ``encoding`` picks the fourcc when it is a four-character code."""

    Config = OpenCVEncoderConfig

    config: OpenCVEncoderConfig

    def open_sink(self, path: Path, width: int, height: int, fps: float, meta: Meta) -> FrameSink:
        code = meta.encoding if len(meta.encoding) == 4 else self.config.fourcc
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*code), max(fps, 1.0), (width, height))
        if not writer.isOpened():
            raise InvalidInput(f"OpenCV cannot encode with codec {code!r}")
        return OpenCVSink(writer)


class OpenCVSink:
    def __init__(self, writer: cv2.VideoWriter) -> None:
        self.writer = writer

    def write(self, frame: np.ndarray) -> None:
        self.writer.write(frame)

    def close(self) -> None:
        self.writer.release()
