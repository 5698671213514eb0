"""``gpu``: utilisation and memory of each NVIDIA GPU through NVML; reported unavailable when absent."""

from __future__ import annotations

from typing import Any

from common.registry import HookConfig, hook
from services.monitor.probe import FAMILY, Probe, ProbeContext


@hook(FAMILY, "gpu")
class GpuProbe(Probe):
    """NVML figures per device; ``{"available": false, "reason": ...}`` without a GPU or driver (never 0)."""

    def __init__(self, config: HookConfig) -> None:
        super().__init__(config)
        self._nvml: Any = None
        self.reason = ""
        try:
            import pynvml

            pynvml.nvmlInit()
            self._nvml = pynvml
        except ImportError:
            self.reason = "nvidia-ml-py is not installed"
        except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...: no usable GPU here
            self.reason = f"NVML unavailable: {exc}"

    async def sample(self, context: ProbeContext) -> dict[str, Any]:
        nvml = self._nvml
        if nvml is None:
            return {"gpu": {"available": False, "reason": self.reason}}
        devices = []
        for index in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            rates = nvml.nvmlDeviceGetUtilizationRates(handle)
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            devices.append(
                {
                    "index": index,
                    "name": str(nvml.nvmlDeviceGetName(handle)),
                    "utilization": rates.gpu / 100.0,
                    "memory": memory.used / memory.total if memory.total else None,
                    "memory_total_bytes": int(memory.total),
                }
            )
        if not devices:
            return {"gpu": {"available": False, "reason": "NVML reports no device"}}
        return {"gpu": {"available": True, "devices": devices}}

    def close(self) -> None:
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            finally:
                self._nvml = None
