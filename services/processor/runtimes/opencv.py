"""OpenCV DNN: runs ONNX files with cv2.dnn (CPU), a fallback where onnxruntime is not wanted."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from common.errors import ConfigError
from common.registry import hook
from services.processor.runtimes.base import ModelSession, Profile, Runtime


class OpenCvSession(ModelSession):
    def __init__(self, net: cv2.dnn.Net, model: Path) -> None:
        self.net = net
        self.output_names = list(net.getUnconnectedOutLayersNames())
        self.input_names = self._input_names(model)
        self.batch_dynamic = True
        self.metadata = {}

    @staticmethod
    def _input_names(model: Path) -> list[str]:
        try:
            import onnx  # only to read the graph's input names; absent: the net's single default input

            graph = onnx.load(str(model), load_external_data=False).graph
            initialisers = {i.name for i in graph.initializer}
            return [i.name for i in graph.input if i.name not in initialisers]
        except ImportError:
            return [""]

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        for name, value in inputs.items():
            self.net.setInput(np.ascontiguousarray(value, dtype=np.float32), name)
        outputs = self.net.forward(self.output_names)
        return [np.asarray(o) for o in outputs]


@hook("runtime", "opencv")
class OpenCvRuntime(Runtime):
    """OpenCV's DNN module on the CPU; thread count through cv2.setNumThreads."""

    def load(self, model: Path, profile: Profile | None = None) -> ModelSession:
        cv2.setNumThreads(self.threads)
        try:
            net = cv2.dnn.readNetFromONNX(str(model))
        except cv2.error as exc:
            raise ConfigError(f"OpenCV cannot load ONNX model {model}: {exc}") from None
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        return OpenCvSession(net, model)
