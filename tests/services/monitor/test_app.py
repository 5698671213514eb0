"""Monitor integration tests: real monitor, scheduler and processor servers on loopback.

The gpu probe must say when there is no GPU (available: false, with the reason), never report 0; where
NVML does see a device (a GPU machine) the other gpu test checks the figures against ``nvidia-smi``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from common.config import parse_yaml_model
from common.errors import ConfigError
from common.topology import StaticTopology, TopologyModel
from services.monitor.app import create_app
from services.monitor.config import MonitorConfig
from services.monitor.settings import MonitorSettings
from services.processor.app import create_app as create_processor
from services.processor.config import ProcessorConfig
from services.processor.settings import ProcessorSettings
from services.scheduler.app import create_app as create_scheduler
from services.scheduler.config import SchedulerConfig
from services.scheduler.settings import SchedulerSettings
from tests import loopback
from tests.servers import free_port, serve

pytestmark = pytest.mark.integration


def monitor(node: str = "edge1", topology: StaticTopology | None = None, **config: Any) -> Any:
    config.setdefault("interval", 0.2)
    settings = MonitorSettings(node=node)
    return serve(create_app(settings, MonitorConfig.model_validate(config), topology=topology))


def wait_for(url: str, check: Any, timeout: float = 60.0) -> Any:
    """The body once ``check`` holds (or the last one after ``timeout``, for the assertion to name)."""
    deadline = time.monotonic() + timeout
    while True:
        body = loopback.get(url, timeout=5).json()
        if check(body) or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def nvml_devices() -> int:
    """How many GPUs NVML sees here (0 without the library, a driver or a device)."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return 0
    try:
        return int(pynvml.nvmlDeviceGetCount())
    finally:
        pynvml.nvmlShutdown()


def test_cpu_memory_fractions_and_gpu_unavailable() -> None:
    if nvml_devices():
        pytest.skip("NVML sees a GPU here: test_gpu_probe_reports_each_device covers it")
    with monitor(probes=["cpu", "memory", "gpu"]) as url:
        # The cpu probe needs an interval between two readings: wait for a report that has one.
        report = wait_for(f"{url}/resources", lambda r: r.get("cpu") is not None and r.get("memory") is not None)
        metrics = loopback.get(f"{url}/metrics")
    assert report["node"] == "edge1"
    assert 0.0 <= report["cpu"] <= 1.0
    assert 0.0 < report["memory"] <= 1.0
    assert report["gpu"]["available"] is False and report["gpu"]["reason"]
    assert metrics.status_code == 200


def test_gpu_probe_reports_each_device() -> None:
    """Runs only on a machine with an NVIDIA GPU; the figures must match what nvidia-smi reads."""
    count = nvml_devices()
    if not count or shutil.which("nvidia-smi") is None:
        pytest.skip("no NVIDIA GPU (or no nvidia-smi) here")
    with monitor(probes=["gpu"]) as url:
        report = wait_for(f"{url}/resources", lambda r: r.get("gpu") is not None)
    smi = (
        subprocess.run(
            ["nvidia-smi", "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        .stdout.strip()
        .splitlines()
    )
    gpu = report["gpu"]
    assert gpu["available"] is True, gpu
    assert len(gpu["devices"]) == count == len(smi)
    for device, line in zip(gpu["devices"], smi, strict=True):
        index, name, total_mib = (field.strip() for field in line.split(","))
        assert device["index"] == int(index)
        assert device["name"] == name
        assert abs(device["memory_total_bytes"] / 2**20 - float(total_mib)) <= 1.0
        assert 0.0 <= device["utilization"] <= 1.0
        assert 0.0 < device["memory"] < 1.0  # the driver itself holds some memory on every device


def test_bandwidth_probe_between_two_monitors() -> None:
    with monitor(node="cloud", probes=[]) as cloud:
        probe = {"alias": "bandwidth", "params": {"size_bytes": 2 * 1024 * 1024, "timeout": 5}}
        # An hour between reports: a figure within the wait (60 s) can only come from the report made at start.
        with monitor(probes=[probe], cloud_monitor_url=cloud, interval=3600) as edge:
            report = wait_for(f"{edge}/resources", lambda r: r.get("bandwidth_mbps") is not None)
        too_big = loopback.post(f"{cloud}/bandwidth/probe", content=b"x" * (17 * 1024 * 1024))
        alive = loopback.get(f"{cloud}/health")
    assert report["bandwidth_mbps"] > 0, report
    assert too_big.status_code == 413
    assert alive.status_code == 200


def test_bandwidth_to_a_dead_cloud_is_null_not_zero() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with monitor(probes=[{"alias": "bandwidth", "params": {"timeout": 1}}], cloud_monitor_url=dead) as edge:
        report = wait_for(f"{edge}/resources", lambda r: "bandwidth_error" in r["extra"])
    assert report["bandwidth_mbps"] is None
    assert "bandwidth_error" in report["extra"]


def test_report_reaches_a_real_scheduler_with_queue_lengths(tmp_path: Path) -> None:
    processor_port = free_port()
    with serve(create_scheduler(SchedulerSettings(), SchedulerConfig())) as scheduler:
        topology = StaticTopology(
            TopologyModel.model_validate(
                {
                    "nodes": {
                        "cloud": {
                            "role": "cloud",
                            "components": {"scheduler": {"port": int(scheduler.rsplit(":", 1)[1])}},
                        },
                        "edge1": {"role": "edge", "processors": {"passthrough": {"port": processor_port}}},
                    }
                }
            )
        )
        processor = create_processor(ProcessorSettings(work_dir=tmp_path), ProcessorConfig())
        with serve(processor, port=processor_port), monitor(topology=topology, probes=["cpu", "queue-length"]):
            reports = wait_for(f"{scheduler}/resources", lambda r: "edge1" in r)
    assert "edge1" in reports, reports
    assert reports["edge1"]["queue_lengths"] == {"passthrough": 0}
    assert 0.0 <= reports["edge1"]["cpu"] <= 1.0


def test_unknown_probe_alias_is_refused_when_the_config_is_loaded() -> None:
    with pytest.raises(
        ConfigError, match=r"monitor.yaml:1: probes.1.alias: unknown probe hook 'nope'; known: .*bandwidth.*cpu"
    ):
        parse_yaml_model("probes: [cpu, nope]\n", MonitorConfig, source="monitor.yaml")
