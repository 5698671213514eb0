"""yolo-onnx: decoding, letterbox mapping and NMS, on tiny ONNX graphs this test builds with ``onnx``.

The graphs ignore the picture (their output is a constant plus 0 x the mean of the input, so the batch
size follows the input) and emit raw YOLOv5 or YOLOv8 rows with known boxes, so the expected frame
boxes are computed by hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from common.errors import ConfigError, DecodeError
from common.registry import REGISTRY
from services.processor.applications.support import nms
from services.processor.applications.yolo_onnx import decode

pytestmark = pytest.mark.integration

SIZE = 64


def build_model(path: Path, rows: np.ndarray, layout: str) -> Path:
    """A graph ``images [N,3,64,64] -> output`` whose output is ``rows`` (v5: [1,K,C], v8: [1,C,K])."""
    const = rows[None] if layout == "v5" else rows.T[None]
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], axes=[1, 2, 3], keepdims=1),  # [N,1,1,1]
        helper.make_node("Reshape", ["mean", "shape3"], ["mean3"]),  # [N,1,1]
        helper.make_node("Mul", ["mean3", "zero"], ["nothing"]),
        helper.make_node("Add", ["nothing", "rows"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", *const.shape[1:]])],
        initializer=[
            numpy_helper.from_array(const.astype(np.float32), "rows"),
            numpy_helper.from_array(np.array([-1, 1, 1], np.int64), "shape3"),
            numpy_helper.from_array(np.zeros((1,), np.float32), "zero"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


# cx, cy, w, h in model pixels (64x64 input); two classes: car, plate.
V8_ROWS = np.array(
    [
        [32, 32, 20, 10, 0.9, 0.1],  # car, kept
        [33, 32, 20, 10, 0.8, 0.1],  # same car, lower score: suppressed by NMS
        [33, 32, 20, 10, 0.1, 0.7],  # a plate at the same place: another class, kept
        [10, 10, 4, 4, 0.1, 0.2],  # below the confidence threshold
    ],
    np.float32,
)


@pytest.mark.parametrize("runtime", ["onnxruntime", "opencv"])
def test_v8_export_decoded_and_mapped_back(tmp_path: Path, runtime: str) -> None:
    model = build_model(tmp_path / "v8.onnx", V8_ROWS, "v8")
    app = REGISTRY.create(
        "application",
        "yolo-onnx",
        {
            "model": str(model),
            "classes": ["car", "plate"],
            "input_size": [SIZE, SIZE],
            "runtime": runtime,
            "threads": 1,
        },
    )
    app.load()
    frames = [np.zeros((128, 256, 3), np.uint8)] * 3  # letterboxed: scale 0.25, 16 px bands top and bottom
    results = app.process(frames, None)
    assert len(results) == 3
    for result in results:
        labels = sorted(o.label for o in result.objects)
        assert labels == ["car", "plate"]
        car = next(o for o in result.objects if o.label == "car")
        # model box (22, 27, 42, 37) -> frame ((22-0)/0.25, (27-16)/0.25, ...)
        assert car.box == pytest.approx((88.0, 44.0, 168.0, 84.0), abs=1e-3)
        assert car.score == pytest.approx(0.9)


def test_v5_export_uses_objectness_times_class_score(tmp_path: Path) -> None:
    rows = np.array([[32, 32, 16, 16, 0.5, 0.9], [20, 20, 8, 8, 0.2, 0.9]], np.float32)  # scores 0.45, 0.18
    model = build_model(tmp_path / "v5.onnx", rows, "v5")
    app = REGISTRY.create(
        "application", "yolo-onnx", {"model": str(model), "classes": ["thing"], "input_size": [64, 64]}
    )
    (result,) = app.process([np.zeros((64, 64, 3), np.uint8)], None)
    assert [(o.label, o.score) for o in result.objects] == [("thing", pytest.approx(0.45))]
    assert result.objects[0].box == pytest.approx((24.0, 24.0, 40.0, 40.0))


def test_class_agnostic_nms_keeps_one_of_overlapping_classes(tmp_path: Path) -> None:
    model = build_model(tmp_path / "v8.onnx", V8_ROWS, "v8")
    params = {"model": str(model), "classes": ["car", "plate"], "input_size": [64, 64], "class_agnostic": True}
    app = REGISTRY.create("application", "yolo-onnx", params)
    (result,) = app.process([np.zeros((64, 64, 3), np.uint8)], None)
    assert [o.label for o in result.objects] == ["car"]


def test_output_that_fits_no_layout_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="neither YOLOv5 nor YOLOv8"):
        decode(np.zeros((10, 9), np.float32), classes=2, version="auto", confidence=0.1)


def test_nms_suppresses_only_overlaps() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], np.float32)
    assert nms(boxes, np.array([0.9, 0.8, 0.7]), 0.5) == [0, 2]


def test_missing_model_and_bad_frames(tmp_path: Path) -> None:
    app = REGISTRY.create("application", "yolo-onnx", {"model": str(tmp_path / "none.onnx"), "classes": ["a"]})
    with pytest.raises(ConfigError, match="does not exist"):
        app.load()
    with pytest.raises(DecodeError, match="no frame"):
        app.process([], None)
