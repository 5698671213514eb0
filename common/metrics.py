"""Prometheus helpers: one registry per app (no global state), and request metrics middleware."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.errors import InvalidInput

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ServiceMetrics:
    """A service's own Prometheus registry with get-or-create helpers."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self._metrics: dict[str, Any] = {}
        self.requests = self.counter("http_requests_total", "HTTP requests served", ["method", "route", "status"])
        self.latency = self.histogram("http_request_seconds", "HTTP request latency", ["method", "route"])

    def _name(self, name: str) -> str:
        return f"dayu_{name}"

    def counter(self, name: str, doc: str, labels: list[str] | None = None) -> Counter:
        key = self._name(name)
        if key not in self._metrics:
            self._metrics[key] = Counter(key, doc, labels or [], registry=self.registry)
        metric = self._metrics[key]
        if not isinstance(metric, Counter):
            raise InvalidInput(f"metric {key} is already a {type(metric).__name__}, not a counter")
        return metric

    def gauge(self, name: str, doc: str, labels: list[str] | None = None) -> Gauge:
        key = self._name(name)
        if key not in self._metrics:
            self._metrics[key] = Gauge(key, doc, labels or [], registry=self.registry)
        metric = self._metrics[key]
        if not isinstance(metric, Gauge):
            raise InvalidInput(f"metric {key} is already a {type(metric).__name__}, not a gauge")
        return metric

    def histogram(
        self, name: str, doc: str, labels: list[str] | None = None, buckets: tuple[float, ...] = LATENCY_BUCKETS
    ) -> Histogram:
        key = self._name(name)
        if key not in self._metrics:
            self._metrics[key] = Histogram(key, doc, labels or [], registry=self.registry, buckets=buckets)
        metric = self._metrics[key]
        if not isinstance(metric, Histogram):
            raise InvalidInput(f"metric {key} is already a {type(metric).__name__}, not a histogram")
        return metric

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class RequestMetricsMiddleware:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware) counting requests per route template."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            self.metrics.requests.labels(method, path, str(status)).inc()
            self.metrics.latency.labels(method, path).observe(time.perf_counter() - start)
