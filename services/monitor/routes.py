"""Monitor routes: the latest report, and the bandwidth probe endpoint edges upload to."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request

from common.contracts.monitor import ProbeReceipt
from common.contracts.openapi import body, raises
from common.errors import InvalidInput, Overloaded, PayloadTooLarge
from common.plan import ResourceReport
from services.monitor.config import MonitorConfig
from services.monitor.reporter import Reporter

router = APIRouter()


@router.get("/resources")
async def resources(request: Request) -> ResourceReport:
    reporter: Reporter = request.app.state.reporter
    return reporter.latest or await reporter.sample()


@router.post(
    "/bandwidth/probe",
    openapi_extra=body(media_types={"application/octet-stream": None}),
    responses=raises(Overloaded),
)
async def bandwidth_probe(request: Request) -> ProbeReceipt:
    """Receive one probe upload. One edge at a time, so probes do not share (and halve) the link."""
    config: MonitorConfig = request.app.state.config
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > config.max_probe_bytes:
        raise PayloadTooLarge(f"probe of {declared} bytes exceeds the limit of {config.max_probe_bytes} bytes")
    lock: asyncio.Lock = request.app.state.probe_lock
    arrived = time.perf_counter()
    try:
        await asyncio.wait_for(lock.acquire(), timeout=config.probe_slot_wait)
    except TimeoutError:
        raise Overloaded(f"another bandwidth probe is running; none free within {config.probe_slot_wait:g}s") from None
    try:
        waited = time.perf_counter() - arrived
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > config.max_probe_bytes:
                raise PayloadTooLarge(f"probe exceeds the limit of {config.max_probe_bytes} bytes")
        if received == 0:
            raise InvalidInput("empty probe: a bandwidth probe measures the bytes it uploads")
        return ProbeReceipt(bytes=received, waited_s=waited, seconds=time.perf_counter() - arrived - waited)
    finally:
        lock.release()
