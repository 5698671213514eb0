"""Runtime hooks load a model file into a :class:`ModelSession`; applications only see sessions.

GPU runtimes import their packages lazily and say they are unavailable (``Runtime.available``) rather
than failing at import, so a CPU-only node still lists and uses the other runtimes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np
from pydantic import Field

from common.registry import REGISTRY, Hook, HookConfig

FAMILY = "runtime"
Profile = Mapping[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]
"""Input name -> (min, opt, max) shapes, for runtimes that compile for a shape range (TensorRT)."""


class RuntimeConfig(HookConfig):
    """Fields every runtime accepts."""

    threads: int | None = Field(None, ge=1, le=256, description="Intra-op threads; default: all cores.")


class ModelSession:
    """A loaded model: named float32 inputs in, outputs out (in the model's output order)."""

    input_names: list[str]
    output_names: list[str]
    batch_dynamic: bool = True
    """False when the model takes a fixed batch size (callers then run frames one by one)."""
    metadata: dict[str, str]

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError

    def describe(self) -> dict[str, object]:
        return {"inputs": self.input_names, "outputs": self.output_names, "batch_dynamic": self.batch_dynamic}


class Runtime(Hook):
    """Base of every runtime hook."""

    Config: ClassVar[type[HookConfig]] = RuntimeConfig
    device: ClassVar[str] = "cpu"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Whether this runtime can run here, and why not."""
        return True, ""

    def load(self, model: Path, profile: Profile | None = None) -> ModelSession:
        raise NotImplementedError

    @property
    def threads(self) -> int:
        configured = getattr(self.config, "threads", None)
        return int(configured or os.cpu_count() or 1)


REGISTRY.declare_modules(
    FAMILY,
    [
        "services.processor.runtimes.onnxruntime",
        "services.processor.runtimes.opencv",
        "services.processor.runtimes.tensorrt",
    ],
)


def create_runtime(alias: str, threads: int | None) -> Runtime:
    """A runtime by alias; an unavailable one (no GPU, no package) raises Unavailable naming the reason."""
    from common.errors import Unavailable

    cls = REGISTRY.get(FAMILY, alias)
    assert issubclass(cls, Runtime)
    ok, why = cls.available()
    if not ok:
        raise Unavailable(f"runtime {alias!r} is unavailable here: {why}", detail={"runtime": alias, "reason": why})
    runtime: Runtime = REGISTRY.create(FAMILY, alias, {"threads": threads} if threads else {})
    return runtime
