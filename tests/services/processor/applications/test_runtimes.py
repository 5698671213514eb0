"""Runtime hooks: onnxruntime and opencv run everywhere. tensorrt and onnxruntime's CUDA provider need an
NVIDIA GPU and their packages: without them only tensorrt's unavailability report and its engine cache key
are checked, and the two GPU tests below skip, saying why."""

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


def test_onnxruntime_cuda_gives_the_cpu_result() -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip(f"this onnxruntime has no CUDA provider ({ort.get_available_providers()})")
    model = ppocr_model("ch_PP-OCRv4_det_infer.onnx")
    frame = np.random.default_rng(7).random((1, 3, 96, 128), np.float32)
    on_gpu = REGISTRY.create(FAMILY, "onnxruntime", {"threads": 1, "device": "cuda"}).load(model)
    assert on_gpu.describe()["providers"][0] == "CUDAExecutionProvider"  # type: ignore[index]
    (expected,) = REGISTRY.create(FAMILY, "onnxruntime", {"threads": 1, "device": "cpu"}).load(model).run({"x": frame})
    (got,) = on_gpu.run({"x": frame})
    assert np.abs(got - expected).max() < 1e-3


def test_tensorrt_engine_gives_the_onnxruntime_result(tmp_path: Path) -> None:
    ok, why = TensorRtRuntime.available()
    if not ok:
        pytest.skip(f"tensorrt is unavailable here: {why}")
    model = ppocr_model("ch_PP-OCRv4_det_infer.onnx")
    runtime = REGISTRY.create(FAMILY, "tensorrt", {"cache_dir": str(tmp_path), "fp16": False})
    profile = {"x": ((1, 3, 32, 32), (1, 3, 96, 128), (2, 3, 256, 256))}
    session = runtime.load(model, profile)
    assert len(list(tmp_path.glob("*.engine"))) == 1
    frame = np.random.default_rng(7).random((2, 3, 96, 128), np.float32)
    (expected,) = create_runtime("onnxruntime", 1).load(model).run({"x": frame})
    (got,) = session.run({"x": frame})
    assert got.shape == expected.shape and np.abs(got - expected).max() < 1e-2
    again = runtime.load(model, profile)  # from the cached engine, no rebuild
    (cached,) = again.run({"x": frame})
    assert len(list(tmp_path.glob("*.engine"))) == 1 and np.array_equal(cached, got)
