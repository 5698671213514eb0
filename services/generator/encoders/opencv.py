"""``opencv`` encoder: ``cv2.VideoWriter`` with a four-character codec (``mp4v`` by default)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from common.encoding import DEFAULT_FOURCC, open_opencv
from common.registry import HookConfig, hook
from common.task import Meta
from services.generator.encoder import FAMILY, Encoder, FrameSink


class OpenCVEncoderConfig(HookConfig):
    fourcc: str = Field(DEFAULT_FOURCC, min_length=4, max_length=4, description="Codec used when the plan names none.")


@hook(FAMILY, "opencv")
class OpenCVEncoder(Encoder):
    """The plan's ``encoding`` picks the fourcc when it is a four-character code."""

    Config = OpenCVEncoderConfig

    config: OpenCVEncoderConfig

    def open_sink(self, path: Path, width: int, height: int, fps: float, meta: Meta) -> FrameSink:
        return open_opencv(path, width, height, fps, meta.encoding, self.config.fourcc)
