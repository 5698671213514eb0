"""The monitor's clock: run every probe, build a ResourceReport, keep it, and send it to the scheduler."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from common.errors import DayuError
from common.metrics import ServiceMetrics
from common.periodic import LOGGED_WITH_TRACEBACK, every
from common.plan import ResourceReport
from services.monitor.probe import Probe, ProbeContext

log = logging.getLogger(__name__)


class Reporter:
    def __init__(
        self,
        probes: list[Probe],
        context: ProbeContext,
        *,
        scheduler_url: str | None,
        probe_timeout: float,
        report_timeout: float,
        report_retries: int,
        metrics: ServiceMetrics,
    ) -> None:
        self.probes = probes
        self.context = context
        self.scheduler_url = scheduler_url
        self.probe_timeout = probe_timeout
        self.report_timeout = report_timeout
        self.report_retries = report_retries
        self.latest: ResourceReport | None = None
        self._sent = metrics.counter("monitor_reports_total", "Reports by delivery outcome", ["outcome"])

    async def _run_probe(self, probe: Probe) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(probe.sample(self.context), timeout=self.probe_timeout)
        except TimeoutError:
            return {"extra": {f"{probe.alias}_error": f"timed out after {self.probe_timeout:g}s"}}
        except Exception as exc:  # one failing probe must not cost the whole report
            log.warning("probe %s failed: %s", probe.alias, exc)
            return {"extra": {f"{probe.alias}_error": str(exc)}}

    async def sample(self) -> ResourceReport:
        fields: dict[str, Any] = {"extra": {}}
        for part in await asyncio.gather(*(self._run_probe(p) for p in self.probes)):
            fields["extra"].update(part.pop("extra", {}))
            fields.update(part)
        report = ResourceReport(node=self.context.node, at=time.time(), **fields)
        self.latest = report
        return report

    async def deliver(self, report: ResourceReport) -> bool:
        if self.scheduler_url is None:
            return False
        try:
            await self.context.client.request(
                "POST",
                self.scheduler_url,
                json=report.model_dump(mode="json"),
                idempotent=True,
                timeout=self.report_timeout,
                retries=self.report_retries,
            )
        except DayuError as exc:
            self._sent.labels("failed").inc()
            log.warning("report to %s failed: %s", self.scheduler_url, exc)
            return False
        self._sent.labels("sent").inc()
        return True

    async def report(self) -> None:
        await self.deliver(await self.sample())

    async def run(self, interval: float) -> None:
        """Report now, then every ``interval`` seconds (measured start to start)."""
        await every(
            interval,
            self.report,
            what="monitor report",
            log=log,
            failures=LOGGED_WITH_TRACEBACK,
            first_now=True,
            start_to_start=True,
        )

    def close(self) -> None:
        for probe in self.probes:
            probe.close()
