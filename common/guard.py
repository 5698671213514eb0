"""The request guard every component runs in front of its routes (pure ASGI, nothing buffered unbounded).

In order, before any route code runs and before a byte of the body is read:

1. the token: a request for a guarded route without the right token is answered 401 at once;
2. the body limit of the route: a declared ``Content-Length`` over it is answered 413 at once, and a body
   that grows past it while arriving stops with 413 (chunked uploads declare nothing);
3. JSON nesting: a body that may be parsed as JSON (anything but multipart, form and binary content
   types) is read here, within its limit, and refused with 400 when it nests deeper than
   :data:`MAX_JSON_DEPTH` (Python's parser would otherwise hit the recursion limit inside a route).

Open routes (``/health``, ``/metrics``, the API documents, the dashboard's static files) need no token
and take small bodies only.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from re import Pattern
from typing import Any
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.errors import PayloadTooLarge

TOKEN_HEADER = "X-Dayu-Token"
MAX_JSON_DEPTH = 64
"""Deepest JSON nesting any route accepts (a task with results nests about ten levels)."""
OPEN_BODY_LIMIT = 64 * 1024
"""Body limit of the open routes: they are all reads."""
BINARY_TYPES = (
    "multipart/",
    "application/octet-stream",
    "application/x-dayu-",
    "application/x-www-form-urlencoded",
    "video/",
    "image/",
)
"""Content types no route parses as JSON: streamed and counted, not read here."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKET = re.compile(rb"[\[\]{}]")


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``body``, read as JSON, nests deeper than ``limit`` (brackets inside strings ignored)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # the common case, at C speed
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def presented_token(headers: Iterable[tuple[bytes, bytes]], method: str, query_string: bytes) -> str | None:
    """The token a request carries: ``Authorization: Bearer``, ``X-Dayu-Token``, or ``?token=`` on reads
    (browsers cannot set headers on EventSource or ``<img>``)."""
    found: dict[bytes, bytes] = {}
    for key, value in headers:
        found.setdefault(key.lower(), value)
    auth = found.get(b"authorization", b"").decode("latin-1")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    header = found.get(TOKEN_HEADER.lower().encode(), b"").decode("latin-1").strip()
    if header:
        return header
    if method == "GET":
        values = parse_qs(query_string.decode("latin-1")).get("token")
        return values[0] if values else None
    return None


def token_matches(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


READ_METHODS = ("GET", "HEAD")
READ_ONLY_MESSAGE = "this token may only read (GET, HEAD); writes need the API token"


def token_access(presented: str | None, expected: str, read_token: str | None, method: str) -> int:
    """200 when the request may go on, 401 for a missing or wrong token, 403 for a write with the read token."""
    if token_matches(presented, expected):
        return 200
    if read_token and token_matches(presented, read_token):
        return 200 if method in READ_METHODS else 403
    return 401


class BodyTooLarge(PayloadTooLarge, StarletteHTTPException):
    """Raised while the body arrives. An HTTP exception too, so FastAPI's body parsing passes it on as it
    is (it turns anything else into a 400), and a :class:`PayloadTooLarge` for Dayu's own handlers.

    ``detail`` stays ``{"limit": ...}``: both bases name that attribute, and a route that reads the body
    itself (a form) must answer the same error body as the guard answers before the route."""

    def __init__(self, message: str, limit: int) -> None:
        PayloadTooLarge.__init__(self, message, detail={"limit": limit})
        self.status_code = 413
        self.headers = None


@dataclass
class BodyLimits:
    """How many body bytes a route takes: ``routes`` by route path (``/api/dags/{name}``), else ``binary``
    for streamed content types, else ``text`` (JSON and anything read whole)."""

    text: int
    binary: int
    routes: Mapping[str, int] = field(default_factory=dict)

    def limit_for(self, path: str | None, binary: bool) -> int:
        if path is not None and path in self.routes:
            return self.routes[path]
        return self.binary if binary else self.text


@dataclass(frozen=True)
class GuardedRoute:
    """A route that needs the token: its path template and the regular expression matching it."""

    path: str
    regex: Pattern[str]

    @classmethod
    def from_route(cls, route: BaseRoute) -> GuardedRoute | None:
        """The route's path and regex, or None for a route that has neither (a mount, a websocket)."""
        path, regex = getattr(route, "path", None), getattr(route, "path_regex", None)
        return cls(path, regex) if isinstance(path, str) and regex is not None else None


def _error(status: int, code: str, message: str, detail: Any = None) -> tuple[Message, Message]:
    body = json.dumps({"error": {"code": code, "message": message, "detail": detail}}).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    return start, {"type": "http.response.body", "body": body}


class RequestGuard:
    """Token, body limit and JSON depth, checked before the app reads anything (see the module doc).

    ``owner`` is the app (its settings hold the token); ``guarded`` lists the routes that need the token.
    A path no guarded route matches is open (health, metrics, API documents, static files, or a 404).
    """

    def __init__(self, app: ASGIApp, *, owner: Any, guarded: list[GuardedRoute], limits: BodyLimits) -> None:
        self.app = app
        self.owner = owner
        self.guarded = guarded
        self.limits = limits

    def _route(self, scope: Scope) -> GuardedRoute | None:
        path = scope.get("path", "")
        for route in self.guarded:
            if route.regex.match(path):
                return route
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self._route(scope)
        guarded = route is not None
        method = scope["method"]
        if guarded:
            settings = self.owner.state.settings
            expected: str | None = settings.token
            presented = presented_token(scope["headers"], method, scope.get("query_string", b"")) if expected else None
            access = token_access(presented, expected, settings.read_token, method) if expected else 200
            if access == 403:
                await self._answer(send, 403, "forbidden", READ_ONLY_MESSAGE)
                return
            if access == 401:
                await self._answer(
                    send, 401, "unauthorized", "missing or wrong token: send 'Authorization: Bearer <token>'"
                )
                return
        content_type = ""
        declared: int | None = None
        for key, value in scope["headers"]:
            if key == b"content-type":
                content_type = value.decode("latin-1").lower()
            elif key == b"content-length":
                text = value.decode("latin-1").strip()
                declared = int(text) if text.isdigit() else None
        binary = content_type.startswith(BINARY_TYPES)
        limit = self.limits.limit_for(route.path, binary) if route is not None else OPEN_BODY_LIMIT
        if declared is not None and declared > limit:
            await self._too_large(
                send, f"request body of {declared} bytes exceeds this route's limit of {limit}", limit
            )
            return
        if binary or method in ("GET", "HEAD", "OPTIONS"):
            await self._streamed(scope, receive, send, limit)
            return
        await self._read_whole(scope, receive, send, limit)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(f"request body exceeds this route's limit of {limit} bytes", limit)
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except BodyTooLarge as exc:
            if started:
                raise
            await self._too_large(send, exc.message, limit)

    async def _read_whole(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before sending its body: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(send, f"request body exceeds this route's limit of {limit} bytes", limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if json_too_deep(body):
            await self._answer(
                send, 400, "invalid_input", f"JSON nested deeper than {MAX_JSON_DEPTH} levels", {"max": MAX_JSON_DEPTH}
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only the disconnect is left to wait for

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send, message: str, limit: int) -> None:
        await self._answer(send, 413, "payload_too_large", message, {"limit": limit})

    @staticmethod
    async def _answer(send: Send, status: int, code: str, message: str, detail: Any = None) -> None:
        start, body = _error(status, code, message, detail)
        await send(start)
        await send(body)
