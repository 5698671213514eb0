"""``x264`` encoder: H.264 through PyAV's libx264, with the plan's ``qp`` (or a ``crf``)."""

from __future__ import annotations

import importlib.util
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from common.registry import HookConfig, hook
from common.task import Meta
from services.generator.encoder import FAMILY, Encoder, FrameSink

# PyAV (and the FFmpeg libraries it maps, ~16 MB resident) is loaded on the first H.264 segment, not when
# the encoder family is listed: most generators never encode H.264. A missing PyAV still skips this hook.
if importlib.util.find_spec("av") is None:
    raise ImportError("the x264 encoder needs PyAV (pip install av)")


class X264EncoderConfig(HookConfig):
    preset: str = Field(
        "ultrafast",
        pattern="^(ultrafast|superfast|veryfast|faster|fast|medium|slow|slower|veryslow)$",
        description="x264 speed/size preset.",
    )
    crf: int = Field(23, ge=0, le=51, description="Constant rate factor, used when the plan sets no qp.")
    zerolatency: bool = Field(True, description="Tune for low latency (no lookahead, no B-frames).")


@hook(FAMILY, "x264")
class X264Encoder(Encoder):
    Config = X264EncoderConfig
    config: X264EncoderConfig

    def open_sink(self, path: Path, width: int, height: int, fps: float, meta: Meta) -> FrameSink:
        options = {"preset": self.config.preset}
        if self.config.zerolatency:
            options["tune"] = "zerolatency"
        if meta.qp is not None:
            options["qp"] = str(meta.qp)
        else:
            options["crf"] = str(self.config.crf)
        import av

        container = av.open(str(path), mode="w", format="mp4")
        try:
            stream = container.add_stream(
                "libx264", rate=Fraction(max(fps, 1.0)).limit_denominator(1001), options=options
            )
            stream.width, stream.height = width - width % 2, height - height % 2  # 4:2:0 needs even sizes
            stream.pix_fmt = "yuv420p"
        except BaseException:
            container.close()
            raise
        return X264Sink(av, container, stream)


class X264Sink:
    def __init__(self, av: Any, container: Any, stream: Any) -> None:
        self.av, self.container, self.stream = av, container, stream

    def write(self, frame: np.ndarray) -> None:
        image = self.av.VideoFrame.from_ndarray(frame[: self.stream.height, : self.stream.width], format="bgr24")
        for packet in self.stream.encode(image):
            self.container.mux(packet)

    def close(self) -> None:
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
        finally:
            self.container.close()
