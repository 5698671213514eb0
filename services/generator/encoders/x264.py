"""``x264`` encoder: H.264 through PyAV's libx264, with the plan's ``qp`` (or a ``crf``)."""

from __future__ import annotations

import importlib.util
from fractions import Fraction
from pathlib import Path

import numpy as np
from pydantic import Field

from common.registry import HookConfig, hook
from common.task import Meta
from services.generator.encoder import FAMILY, Encoder

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

    def write(self, frames: list[np.ndarray], fps: float, meta: Meta, path: Path) -> None:
        height, width = frames[0].shape[:2]
        options = {"preset": self.config.preset}
        if self.config.zerolatency:
            options["tune"] = "zerolatency"
        if meta.qp is not None:
            options["qp"] = str(meta.qp)
        else:
            options["crf"] = str(self.config.crf)
        import av

        rate = Fraction(max(fps, 1.0)).limit_denominator(1001)
        with av.open(str(path), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=rate, options=options)
            stream.width, stream.height = width - width % 2, height - height % 2
            stream.pix_fmt = "yuv420p"
            for image in frames:
                frame = av.VideoFrame.from_ndarray(image[: stream.height, : stream.width], format="bgr24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
