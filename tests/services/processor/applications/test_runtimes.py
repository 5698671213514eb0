"""Runtime hooks: onnxruntime and opencv run here; tensorrt needs an NVIDIA GPU (none here), so only its
unavailability report and its engine cache key are checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from common.errors import Unavailable
from common.registry import REGISTRY
from services.processor.applications.support import ppocr_model
from services.processor.runtimes.base import FAMILY, create_runtime
from services.processor.runtimes.tensorrt import TensorRtRuntime, engine_path

pytestmark = pytest.mark.unit


def test_family_lists_every_runtime() -> None:
    assert {"onnxruntime", "opencv", "tensorrt"} <= set(REGISTRY.aliases(FAMILY))


def test_onnxruntime_session_honours_threads_and_reads_metadata() -> None:
    runtime = create_runtime("onnxruntime", 1)
    session = runtime.load(ppocr_model("ch_PP-OCRv4_rec_infer.onnx"))
    assert session.session.get_session_options().intra_op_num_threads == 1  # type: ignore[attr-defined]
    assert len(session.metadata["character"].splitlines()) == 6623
    (out,) = session.run({"x": np.zeros((2, 3, 48, 96), np.float32)})
    assert out.shape[0] == 2 and out.shape[2] == 6625


def test_opencv_runs_the_same_model() -> None:
    runtime = create_runtime("opencv", 1)
    session = runtime.load(ppocr_model("ch_PP-OCRv4_det_infer.onnx"))
    (prob,) = session.run({"x": np.zeros((1, 3, 64, 64), np.float32)})
    assert prob.shape == (1, 1, 64, 64)


def test_tensorrt_reports_itself_unavailable_without_a_gpu() -> None:
    ok, why = TensorRtRuntime.available()
    if ok:
        pytest.skip("a GPU with TensorRT is present")
    assert why
    with pytest.raises(Unavailable, match="tensorrt"):
        create_runtime("tensorrt", 1)


def test_engine_cache_key_changes_with_gpu_version_and_model(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"model-a")
    a = engine_path(tmp_path, model, "NVIDIA A100", (8, 0), "10.0.1", "fp16-b8")
    assert a != engine_path(tmp_path, model, "Orin", (8, 7), "10.0.1", "fp16-b8")
    assert a != engine_path(tmp_path, model, "NVIDIA A100", (8, 0), "8.6.1", "fp16-b8")
    model.write_bytes(b"model-b")
    assert a != engine_path(tmp_path, model, "NVIDIA A100", (8, 0), "10.0.1", "fp16-b8")
    assert a.parent == tmp_path and a.suffix == ".engine"
