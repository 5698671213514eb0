"""The service factory every Dayu component is built with.

It gives each app: settings and metrics in ``app.state``; one pooled :class:`ServiceClient` created in
the lifespan (shaped to the topology's links from this node); ``/health`` and ``/metrics`` (open);
the token check on every other route; and one error handler shaping every error response as
``{"error": {"code", "message", "detail"}}``.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.config import ServiceSettings
from common.contracts.openapi import include_declared_bodies, media
from common.contracts.ops import Health
from common.errors import DayuError
from common.guard import TOKEN_HEADER as TOKEN_HEADER
from common.guard import (
    BodyLimits,
    GuardedRoute,
    RequestGuard,
)
from common.log import configure_logging
from common.memtrace import install as install_memtrace
from common.metrics import RequestMetricsMiddleware, ServiceMetrics
from common.topology import StaticTopology, Topology
from common.transport import ServiceClient

log = logging.getLogger(__name__)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

_NO_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)
"""FastAPI's own OpenTelemetry instrumentation (FastAPI 0.165 on), off: the platform exports no traces, and
with it on every request asks the global tracer, meter and logger providers whether one is configured."""


def error_response(
    status: int, code: str, message: str, detail: Any = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    content = {"error": {"code": code, "message": message, "detail": detail}}
    return JSONResponse(status_code=status, content=content, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """The methods the routes matching the request's path answer (HEAD with GET, as Starlette serves it)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= set(route_methods)
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DayuError)
    async def _dayu(_: Request, exc: DayuError) -> JSONResponse:
        if exc.status_code >= 500:
            log.warning("%s: %s", exc.code, exc.message)
        return error_response(exc.status_code, exc.code, exc.message, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in err.get("loc", ())), "problem": err.get("msg", "")}
            for err in exc.errors()
        ]
        first = problems[0] if problems else {"field": "", "problem": "invalid request"}
        message = f"{first['field']}: {first['problem']}"
        return error_response(422, "invalid_input", message, problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the methods of the first route matching the path; a path served by
            # several routes (GET and POST apart) allows the methods of all of them.
            headers["Allow"] = ", ".join(allowed_methods(request))
        return error_response(exc.status_code, code, str(exc.detail), headers=headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error: %s", exc)
        return error_response(500, "internal_error", f"internal error: {type(exc).__name__}")


class UnexpectedErrorMiddleware:
    """Answers an unexpected exception with the one error shape and keeps the connection usable.

    Starlette's own handler for ``Exception`` re-raises after answering, so uvicorn drops the
    keep-alive connection and the caller's next pooled request fails with a read error.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:
                raise  # half a response is out: nothing sensible can follow it
            log.exception("unhandled error: %s", exc)
            response = error_response(500, "internal_error", f"internal error: {type(exc).__name__}")
            await response(scope, receive, send)


def load_topology(settings: ServiceSettings) -> Topology | None:
    if not settings.topology:
        return None
    return StaticTopology.from_text(settings.topology, source="$DAYU_TOPOLOGY")


def create_service(
    name: str,
    settings: ServiceSettings,
    *,
    routers: Sequence[APIRouter] = (),
    lifespan: Lifespan | None = None,
    health: Callable[[FastAPI], dict[str, Any]] | None = None,
    topology: Topology | None = None,
    client: ServiceClient | None = None,
    version: str = "0.1.0",
    body_limits: Mapping[str, int] | None = None,
    client_token: str | None = None,
) -> FastAPI:
    """Build a component app. ``lifespan`` runs inside the base one, after the client exists.

    ``client_token``: the token the app's client sends (default: the app's own token).

    ``body_limits`` sets the body limit of some routes, by route path, over the settings' defaults
    (``max_json_bytes`` for bodies read whole, ``max_body_bytes`` for streamed ones)."""
    configure_logging(name, settings.log_level, json_lines=settings.log_json)
    install_memtrace(name)  # DAYU_TRACEMALLOC: off unless asked (docs/reliability.md, "Memory")
    # httpx logs every request at INFO: on a busy data path that line costs more than the request.
    # Failures still reach the log through ServiceClient's errors; /metrics counts the requests.
    debugging = logging.getLogger().level <= logging.DEBUG
    logging.getLogger("httpx").setLevel(logging.DEBUG if debugging else logging.WARNING)

    @asynccontextmanager
    async def base_lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.started_at = time.time()
        app.state.topology = topology if topology is not None else load_topology(settings)
        shaper = None
        if app.state.topology is not None and settings.node in app.state.topology.nodes():
            shaper = app.state.topology.shaper(settings.node)
        own_client = client is None
        app.state.client = client or ServiceClient(token=client_token or settings.token, shaper=shaper)
        try:
            if lifespan is not None:
                async with lifespan(app):
                    yield
            else:
                yield
        finally:
            if own_client:
                await app.state.client.aclose()

    app = FastAPI(title=f"dayu-{name}", version=version, lifespan=base_lifespan, **_NO_TELEMETRY)
    app.state.settings = settings
    app.state.service_name = name
    app.state.metrics = ServiceMetrics(name)
    guarded = [g for router in routers for route in router.routes if (g := GuardedRoute.from_route(route)) is not None]
    limits = BodyLimits(text=settings.max_json_bytes, binary=settings.max_body_bytes, routes=dict(body_limits or {}))
    # Innermost of ours: a body over its limit found deep inside a route still answers 413, not 500.
    app.add_middleware(RequestGuard, owner=app, guarded=guarded, limits=limits)
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(RequestMetricsMiddleware, metrics=app.state.metrics)  # outermost: counts the 500s too
    install_error_handlers(app)

    @app.get("/health", tags=["ops"])
    async def _health(request: Request) -> Health:
        body: dict[str, Any] = {
            "status": "ok",
            "service": name,
            "node": settings.node,
            "uptime_s": round(time.time() - getattr(request.app.state, "started_at", time.time()), 3),
        }
        if health is not None:
            body.update(health(request.app))
        return Health.model_validate(body)

    @app.get("/metrics", tags=["ops"], response_class=Response, responses=media("text/plain", "Prometheus text format"))
    async def _metrics(request: Request) -> Response:
        payload, content_type = request.app.state.metrics.render()
        return Response(payload, media_type=content_type)

    # The token is checked once, by the RequestGuard above, before a body is read: a route dependency
    # repeating the check cost the controller ~5 % of its CPU per task and could never refuse anything.
    for router in routers:
        app.include_router(router)
    include_declared_bodies(app, guarded=[g.path for g in guarded])
    return app
