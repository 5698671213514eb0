"""ONNX Runtime: CPU, or CUDA when the installed onnxruntime has the CUDA provider and a GPU is present."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import onnxruntime as ort
from pydantic import Field

from common.errors import ConfigError
from common.registry import hook
from services.processor.runtimes.base import ModelSession, Profile, Runtime, RuntimeConfig


class OnnxRuntimeConfig(RuntimeConfig):
    device: str = Field("auto", pattern="^(auto|cpu|cuda)$", description="auto: CUDA when available, else CPU.")


class OrtSession(ModelSession):
    def __init__(self, session: ort.InferenceSession) -> None:
        self.session = session
        self.input_names = [i.name for i in session.get_inputs()]
        self.output_names = [o.name for o in session.get_outputs()]
        first = session.get_inputs()[0].shape
        self.batch_dynamic = not (first and isinstance(first[0], int))
        self.metadata = dict(session.get_modelmeta().custom_metadata_map)
        self.providers = session.get_providers()

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        return list(self.session.run(None, inputs))

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "providers": self.providers}


@hook("runtime", "onnxruntime")
class OnnxRuntime(Runtime):
    """ONNX Runtime sessions with a bounded intra-op thread pool."""

    Config: ClassVar[type[RuntimeConfig]] = OnnxRuntimeConfig

    def load(self, model: Path, profile: Profile | None = None) -> ModelSession:
        assert isinstance(self.config, OnnxRuntimeConfig)
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        available = ort.get_available_providers()
        providers = ["CPUExecutionProvider"]
        if self.config.device in ("auto", "cuda") and "CUDAExecutionProvider" in available:
            providers.insert(0, "CUDAExecutionProvider")
        elif self.config.device == "cuda":
            raise ConfigError("onnxruntime device 'cuda' asked but this onnxruntime has no CUDA provider")
        self.active_device = "cuda" if providers[0].startswith("CUDA") else "cpu"
        try:
            session = ort.InferenceSession(str(model), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise ConfigError(f"cannot load ONNX model {model}: {exc}") from None
        return OrtSession(session)
