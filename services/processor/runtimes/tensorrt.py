"""TensorRT: an engine built from the ONNX file, cached per GPU and TensorRT version; buffers via pycuda.

``tensorrt`` and ``pycuda`` are imported only when a session is loaded, so this module always
registers; :meth:`TensorRtRuntime.available` says whether a GPU and both packages are present. Uses the
tensor-name API of TensorRT >= 8.5 (``set_input_shape``, ``set_tensor_address``, ``execute_async_v3``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from common.errors import ConfigError, Unavailable
from common.registry import hook
from services.processor.runtimes.base import ModelSession, Profile, Runtime, RuntimeConfig


class TensorRtConfig(RuntimeConfig):
    cache_dir: Path = Field(Path(".dayu/trt-cache"), description="Where built engines are kept.")
    fp16: bool = Field(True, description="Allow FP16 kernels when the GPU has fast FP16.")
    max_batch: int = Field(8, ge=1, le=256, description="Largest batch of a dynamic batch dimension.")
    workspace_mb: int = Field(1024, ge=16, le=65536, description="Builder workspace limit.")
    device_id: int = Field(0, ge=0, description="CUDA device index.")


def _import() -> tuple[Any, Any]:
    try:
        import pycuda.driver as cuda
        import tensorrt as trt
    except ImportError as exc:
        raise Unavailable(f"tensorrt runtime needs the 'tensorrt' and 'pycuda' packages: {exc}") from None
    return trt, cuda


def engine_path(
    cache_dir: Path, model: Path, gpu: str, capability: tuple[int, int], trt_version: str, tag: str
) -> Path:
    """Cache key: the ONNX bytes, the GPU model and compute capability, TensorRT's version and build options."""
    digest = hashlib.sha256(model.read_bytes()).hexdigest()[:16]
    safe_gpu = "".join(c if c.isalnum() else "_" for c in gpu)[:40]
    name = f"{model.stem}-{digest}-{safe_gpu}-sm{capability[0]}{capability[1]}-trt{trt_version}-{tag}.engine"
    return cache_dir / name


class TrtSession(ModelSession):
    def __init__(self, trt: Any, cuda: Any, engine: Any, context_owner: Any) -> None:
        self.trt, self.cuda, self.engine = trt, cuda, engine
        self.cuda_context = context_owner
        self.context = engine.create_execution_context()
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = trt.TensorIOMode.INPUT
        self.input_names = [n for n in names if engine.get_tensor_mode(n) == inputs]
        self.output_names = [n for n in names if engine.get_tensor_mode(n) != inputs]
        self.batch_dynamic = engine.get_tensor_shape(self.input_names[0])[0] == -1
        self.metadata = {}
        self._buffers: dict[str, tuple[Any, Any, tuple[int, ...]]] = {}  # name -> (host, device, shape)
        self._lock = threading.Lock()  # one execution context: one call at a time

    def _buffer(self, name: str, shape: tuple[int, ...]) -> tuple[Any, Any]:
        held = self._buffers.get(name)
        if held is not None and held[2] == shape:
            return held[0], held[1]
        dtype = self.trt.nptype(self.engine.get_tensor_dtype(name))
        host = self.cuda.pagelocked_empty(int(np.prod(shape)), dtype).reshape(shape)
        device = self.cuda.mem_alloc(host.nbytes)
        self._buffers[name] = (host, device, shape)
        return host, device

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        with self._lock:
            self.cuda_context.push()  # CUDA contexts are per thread; the processor's worker thread borrows it
            try:
                stream = self.cuda.Stream()
                for name in self.input_names:
                    value = inputs[name]
                    self.context.set_input_shape(name, tuple(value.shape))
                    host, device = self._buffer(name, tuple(value.shape))
                    np.copyto(host, value.astype(host.dtype, copy=False))
                    self.cuda.memcpy_htod_async(device, host, stream)
                    self.context.set_tensor_address(name, int(device))
                outputs = []
                for name in self.output_names:
                    shape = tuple(self.context.get_tensor_shape(name))
                    host, device = self._buffer(name, shape)
                    self.context.set_tensor_address(name, int(device))
                    outputs.append((host, device))
                if not self.context.execute_async_v3(stream.handle):
                    raise Unavailable("TensorRT execution failed")
                for host, device in outputs:
                    self.cuda.memcpy_dtoh_async(host, device, stream)
                stream.synchronize()
                return [host.copy() for host, _ in outputs]
            finally:
                self.cuda_context.pop()


@hook("runtime", "tensorrt")
class TensorRtRuntime(Runtime):
    """NVIDIA TensorRT engines (GPU only), built once per GPU model and TensorRT version, then cached."""

    Config: ClassVar[type[RuntimeConfig]] = TensorRtConfig
    device: ClassVar[str] = "cuda"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        try:
            _, cuda = _import()
            cuda.init()
            if cuda.Device.count() < 1:
                return False, "no CUDA device"
        except Unavailable as exc:
            return False, exc.message
        except Exception as exc:  # pycuda raises its own error when there is no driver
            return False, f"CUDA is not usable: {exc}"
        return True, ""

    def load(self, model: Path, profile: Profile | None = None) -> ModelSession:
        assert isinstance(self.config, TensorRtConfig)
        trt, cuda = _import()
        cuda.init()
        device = cuda.Device(self.config.device_id)
        context = device.retain_primary_context()
        capability = device.compute_capability()
        tag = f"{'fp16' if self.config.fp16 else 'fp32'}-b{self.config.max_batch}"
        if profile:
            tag += "-" + hashlib.sha1(repr(sorted(profile.items())).encode()).hexdigest()[:8]
        path = engine_path(self.config.cache_dir, model, device.name(), capability, trt.__version__, tag)
        logger = trt.Logger(trt.Logger.WARNING)
        context.push()
        try:
            if not path.exists():
                self._build(trt, logger, model, path, profile or {})
            runtime = trt.Runtime(logger)
            engine = runtime.deserialize_cuda_engine(path.read_bytes())
            if engine is None:
                raise ConfigError(f"cached TensorRT engine {path} cannot be loaded; delete it to rebuild")
        finally:
            context.pop()
        return TrtSession(trt, cuda, engine, context)

    def _build(self, trt: Any, logger: Any, model: Path, path: Path, profile: Profile) -> None:
        assert isinstance(self.config, TensorRtConfig)
        builder = trt.Builder(logger)
        flags = 0
        if hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"):  # required before TensorRT 10
            flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse(model.read_bytes()):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise ConfigError(f"TensorRT cannot parse {model}: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, self.config.workspace_mb << 20)
        if self.config.fp16 and builder.platform_has_fast_fp16:
            config.set_flag(trt.BuilderFlag.FP16)
        shapes = builder.create_optimization_profile()
        needs_profile = False
        for i in range(network.num_inputs):
            tensor = network.get_input(i)
            dims = tuple(tensor.shape)
            if tensor.name in profile:
                shapes.set_shape(tensor.name, *profile[tensor.name])
                needs_profile = True
            elif -1 in dims:
                if -1 in dims[1:]:
                    raise ConfigError(
                        f"input {tensor.name!r} of {model} has dynamic dims {dims}: give a shape profile for TensorRT"
                    )
                low, high = (1, *dims[1:]), (self.config.max_batch, *dims[1:])
                shapes.set_shape(tensor.name, low, low, high)
                needs_profile = True
        if needs_profile:
            config.add_optimization_profile(shapes)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise ConfigError(f"TensorRT could not build an engine from {model}")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".engine-")
        with os.fdopen(fd, "wb") as out:
            out.write(bytes(serialized))
        os.replace(tmp, path)  # atomic: two processors building at once never read half an engine
