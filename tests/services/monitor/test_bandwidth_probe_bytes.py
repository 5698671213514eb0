"""The bandwidth probe counts its own uploads, so the bytes a policy puts on the link can include them.

Real cloud and edge monitors on loopback; the edge probes the cloud's probe endpoint.
"""

from __future__ import annotations

from typing import Any

import pytest

from services.monitor.app import create_app
from services.monitor.config import MonitorConfig
from services.monitor.settings import MonitorSettings
from tests.servers import free_port, serve
from tests.services.monitor.test_app import wait_for

pytestmark = pytest.mark.integration
PROBE = 64 * 1024


def monitor(node: str, **config: Any) -> Any:
    return serve(create_app(MonitorSettings(node=node), MonitorConfig.model_validate(config)))


def test_probe_reports_the_bytes_it_has_put_on_the_link_since_start() -> None:
    """Probes of exactly 64 KiB (largest = smallest) every 0.2 s: the running total is 64 KiB per probe sent,
    and it only grows between reports."""
    probe = {"alias": "bandwidth", "params": {"size_bytes": PROBE, "min_bytes": PROBE, "timeout": 5}}
    with (
        monitor("cloud", probes=[]) as cloud,
        monitor("edge1", probes=[probe], cloud_monitor_url=cloud, interval=0.2) as edge,
    ):
        first = wait_for(f"{edge}/resources", lambda r: (r["extra"].get("bandwidth_probes") or 0) >= 1)
        later = wait_for(
            f"{edge}/resources",
            lambda r: (r["extra"].get("bandwidth_probes") or 0) >= first["extra"]["bandwidth_probes"] + 2,
        )
    for report in (first, later):
        extra = report["extra"]
        assert extra["bandwidth_probe_bytes_total"] == PROBE * extra["bandwidth_probes"], extra
        assert extra["bandwidth_probe_bytes"] == PROBE
    assert later["extra"]["bandwidth_probe_bytes_total"] >= first["extra"]["bandwidth_probe_bytes_total"] + 2 * PROBE


def test_failed_probes_count_too() -> None:
    """A probe that gets no answer still booked its bytes on the link: the total counts it."""
    dead = f"http://127.0.0.1:{free_port()}"
    probe = {"alias": "bandwidth", "params": {"size_bytes": PROBE, "min_bytes": PROBE, "timeout": 1}}
    with monitor("edge1", probes=[probe], cloud_monitor_url=dead, interval=0.2) as edge:
        report = wait_for(f"{edge}/resources", lambda r: "bandwidth_error" in r["extra"])
    extra = report["extra"]
    assert report["bandwidth_mbps"] is None
    assert extra["bandwidth_probes"] >= 1 and extra["bandwidth_probe_bytes_total"] == PROBE * extra["bandwidth_probes"]
