"""``x264`` encoder: H.264 through PyAV's libx264, with the plan's ``qp`` (or a ``crf``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pydantic import Field

from common.encoding import DEFAULT_CRF, DEFAULT_PRESET, X264_PRESETS, open_x264
from common.registry import HookConfig, hook
from common.task import Meta
from services.generator.encoder import FAMILY, Encoder, FrameSink

# PyAV (and the FFmpeg libraries it maps, ~16 MB resident) is loaded on the first H.264 segment, not when
# the encoder family is listed: most generators never encode H.264. A missing PyAV still skips this hook.
if importlib.util.find_spec("av") is None:
    raise ImportError("the x264 encoder needs PyAV (pip install av)")


class X264EncoderConfig(HookConfig):
    preset: str = Field(DEFAULT_PRESET, pattern=f"^({'|'.join(X264_PRESETS)})$", description="x264 speed/size preset.")
    crf: int = Field(DEFAULT_CRF, ge=0, le=51, description="Constant rate factor, used when the plan sets no qp.")
    zerolatency: bool = Field(True, description="Tune for low latency (no lookahead, no B-frames).")


@hook(FAMILY, "x264")
class X264Encoder(Encoder):
    Config = X264EncoderConfig
    config: X264EncoderConfig

    def open_sink(self, path: Path, width: int, height: int, fps: float, meta: Meta) -> FrameSink:
        c = self.config
        return open_x264(path, width, height, fps, meta.qp, preset=c.preset, crf=c.crf, zerolatency=c.zerolatency)
