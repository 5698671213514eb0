"""FastAPI's own OpenTelemetry instrumentation stays off in every component.

The platform exports no traces; with the instrumentation on, FastAPI asks the global tracer, meter and logger
providers on every request whether one is configured, a cost on every call of the data path. A configured
provider is stood in for by one that records being asked for a tracer (the OpenTelemetry SDK is not
installed); the component is a real server on loopback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from starlette.types import ASGIApp

from common.config import ServiceSettings
from common.service import create_service

pytestmark = pytest.mark.unit


class ConfiguredProvider:
    """Looks configured to FastAPI (not one of OpenTelemetry's deferred providers); records each use."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def get_tracer(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self.asked.append(name)
        raise AssertionError("the component asked for a tracer")


async def test_requests_never_reach_the_frameworks_tracing(
    serve: Callable[[ASGIApp], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = ConfiguredProvider()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    app = create_service("tester", ServiceSettings(node="edge1", port=1))
    base = serve(app)
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(3):
            reply = await client.get(base + "/health")
            assert reply.status_code == 200 and reply.json()["service"] == "tester"
    assert provider.asked == []
