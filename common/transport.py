"""The one inter-service HTTP client: pooled, per-call timeouts, bounded retries, optional shaping.

Retries happen only where repeating is safe: idempotent calls (GET, PUT, DELETE, or ``idempotent=True``)
on timeouts, connection errors and 502/503/504; any call when the connection could not be made at
all (nothing was sent).

One stack moves the bytes: :class:`ServiceClient` turns every call (``content=``, ``json=``, ``params=``,
a form, ``files=``) into one :class:`Outgoing` request, and :class:`PooledTransport` sends it on aiohttp's
connection pool and reads the reply whole into a :class:`Reply` (or hands it over as it arrives, for
:meth:`ServiceClient.stream`). Nothing is built twice and no library's internals are touched: an earlier
design built httpx's request and response objects over the same pool, which cost more CPU per call than
the pool itself. A ``http+unix://<%-encoded socket path>/...`` URL (``common.topology`` hands them out for
components on the caller's node) goes through a pool on that Unix domain socket. Unit tests swap the
transport for ``httpx.MockTransport`` (or any httpx transport): :class:`HttpxTransport` hands the same
:class:`Outgoing` to it through httpx's public transport interface.
"""

from __future__ import annotations

import asyncio
import json
import os
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, TypeVar
from urllib.parse import unquote, urlencode

import aiohttp
import httpx
from multidict import CIMultiDict, CIMultiDictProxy
from pydantic import BaseModel, ValidationError
from yarl import URL

from common.backoff import Backoff
from common.errors import DayuError, InvalidInput, TransportError, UpstreamTimeout
from common.shaping import TrafficShaper
from common.task import Task
from common.topology import UNIX_SCHEME
from common.wire import multipart_parts

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host"})
KEEPALIVE_S = 4.0
"""Idle pooled connections are closed before uvicorn's own 5 s keep-alive ends them under a request."""
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({502, 503, 504})
M = TypeVar("M", bound=BaseModel)
JSON_HEADERS = {"content-type": "application/json"}
_CALL_KWARGS = frozenset({"content", "headers", "json", "params", "data", "files"})
"""What a call may carry besides the client's own options."""
Limits = Mapping[str, float | None]
_UNIX_PREFIX = f"{UNIX_SCHEME}://"


# What went wrong with one attempt, as the retry policy needs to know it (see ServiceClient.request).
class AttemptError(Exception):
    """One attempt failed after (part of) the request may have reached the server."""


class NotSent(AttemptError):
    """The connection could not be made (or no pooled one freed up): nothing reached the server."""


class TimedOut(AttemptError):
    """The server did not answer (or read the upload) within the call's timeout."""


class BadURL(AttemptError):
    """The URL cannot be sent anywhere; repeating it cannot help."""


class Sent(NamedTuple):
    """The request a reply answers, as error messages name it."""

    method: str
    url: str


@dataclass(slots=True)
class Outgoing:
    """One request, fully encoded: what every transport sends."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | AsyncIterable[bytes] | None
    """Bytes, or chunks streamed as they come (sent once: a stream cannot be sent again)."""
    limits: Limits


class Reply:
    """A reply read whole. The same names as httpx's response for what callers read."""

    __slots__ = ("content", "headers", "method", "status_code", "url")

    def __init__(self, status_code: int, headers: CIMultiDictProxy[str], content: bytes, method: str, url: str) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.method = method
        self.url = url

    @property
    def request(self) -> Sent:
        return Sent(self.method, self.url)

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        return self.content.decode(_charset(self.headers), errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class StreamedReply:
    """A reply whose body is read as it arrives (:meth:`ServiceClient.stream`)."""

    def __init__(self, status_code: int, headers: CIMultiDictProxy[str], chunks: AsyncIterator[bytes]) -> None:
        self.status_code = status_code
        self.headers = headers
        self._chunks = chunks

    def aiter_raw(self) -> AsyncIterator[bytes]:
        """The body as it came, content-encoding and all."""
        return self._chunks

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body with its content-encoding (gzip, deflate) undone."""
        decoder = _decoder(self.headers)
        async for chunk in self._chunks:
            out = decoder.decompress(chunk) if decoder is not None else chunk
            if out:
                yield out
        if decoder is not None and (tail := decoder.flush()):
            yield tail

    async def aread(self) -> bytes:
        return b"".join([chunk async for chunk in self.aiter_bytes()])


class Transport(Protocol):
    """What moves a request: :class:`PooledTransport` in every component, :class:`HttpxTransport` in tests."""

    async def send(self, out: Outgoing) -> Reply: ...

    def open(self, out: Outgoing) -> AbstractAsyncContextManager[StreamedReply]: ...

    async def aclose(self) -> None: ...


def _charset(headers: Mapping[str, str]) -> str:
    for param in headers.get("content-type", "").split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip('"')
    return "utf-8"


def _decoder(headers: Mapping[str, str]) -> Any:  # zlib's decompressor type is not public
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    return None


def _decoded(headers: Mapping[str, str], data: bytes) -> bytes:
    decoder = _decoder(headers)
    if decoder is None:
        return data
    try:
        whole: bytes = decoder.decompress(data) + decoder.flush()
        return whole
    except zlib.error as exc:
        raise AttemptError(f"the reply's {headers.get('content-encoding')} body is broken: {exc}") from None


class PooledTransport:
    """Requests on aiohttp connection pools (created on first use, inside the loop): one for TCP, and one per
    Unix domain socket a ``http+unix://`` URL names (the components of this node; see ``common.topology``)."""

    def __init__(self, *, max_connections: int = 64) -> None:
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._unix: dict[str, aiohttp.ClientSession] = {}
        """By socket path: as many as the topology names sockets on this node."""

    def _session_on(self, connector: aiohttp.BaseConnector) -> aiohttp.ClientSession:
        # The client decodes content-encoding itself (a stream may be passed on raw) and sets the headers
        # it means to send. No component sets cookies: without a jar no request filters one.
        return aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = self._session_on(
                aiohttp.TCPConnector(
                    limit=self.max_connections, limit_per_host=0, keepalive_timeout=KEEPALIVE_S, use_dns_cache=True
                )
            )
        return self._session

    def _route(self, url: str) -> tuple[aiohttp.ClientSession, str]:
        """The pool for ``url`` and the URL to ask it for."""
        if url.startswith(_UNIX_PREFIX):
            socket_part, slash, rest = url[len(_UNIX_PREFIX) :].partition("/")
            path = unquote(socket_part)
            if not path:
                raise BadURL(f"no socket path in {url!r}")
            session = self._unix.get(path)
            if session is None or session.closed:
                connector = aiohttp.UnixConnector(path, limit=self.max_connections, keepalive_timeout=KEEPALIVE_S)
                session = self._unix[path] = self._session_on(connector)
            return session, f"http://localhost{slash}{rest}"
        if not url.startswith(("http://", "https://")):
            raise BadURL(f"unsupported scheme in {url!r}")
        return self._open(), url

    async def _start(self, out: Outgoing) -> aiohttp.ClientResponse:
        """Send one request and wait for the answer's headers; aiohttp's errors as :class:`AttemptError`."""
        session, url = self._route(out.url)
        limits = out.limits
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=_seconds(limits.get("pool"), limits.get("connect")),
            sock_connect=limits.get("connect"),
            sock_read=limits.get("read"),
        )
        # aiohttp bounds connecting and each read, not a peer that stops reading the upload: bound the
        # whole send-until-headers phase too (reading the body stays bounded per read, for long streams).
        phases = [limits.get("connect"), limits.get("write"), limits.get("read")]
        deadline = None if any(p is None for p in phases) else sum(p for p in phases if p is not None)
        try:
            async with asyncio.timeout(deadline):
                return await session.request(
                    out.method,
                    url,
                    data=out.body or None,
                    headers=out.headers,
                    timeout=timeout,
                    allow_redirects=False,
                )
        except (aiohttp.InvalidURL, ValueError) as exc:
            raise BadURL(f"{out.url}: {exc}") from None
        except aiohttp.ConnectionTimeoutError:
            raise NotSent("timed out connecting") from None
        except aiohttp.ClientConnectorError as exc:
            raise NotSent(str(exc)) from None
        except TimeoutError:  # aiohttp's read timeouts are TimeoutErrors too: checked before connection errors
            raise TimedOut("timed out waiting for the response") from None
        except aiohttp.ServerDisconnectedError as exc:
            raise AttemptError(f"server disconnected: {exc}") from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as exc:
            raise AttemptError(str(exc)) from None

    async def send(self, out: Outgoing) -> Reply:
        response = await self._start(out)
        try:
            data = await response.read()
        except TimeoutError:
            raise TimedOut("timed out reading the response body") from None
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
            raise AttemptError(f"response body broken off: {exc}") from None
        finally:
            response.release()
        headers = response.headers
        if "content-encoding" in headers:
            data = _decoded(headers, data)
        return Reply(response.status, headers, data, out.method, out.url)

    @asynccontextmanager
    async def open(self, out: Outgoing) -> AsyncIterator[StreamedReply]:
        response = await self._start(out)

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.content.iter_chunked(64 * 1024):
                    yield chunk
            except TimeoutError:
                raise TransportError(f"{out.method} {out.url}: timed out reading the body", url=out.url) from None
            except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
                raise TransportError(f"{out.method} {out.url}: body broken off: {exc}", url=out.url) from None

        try:
            yield StreamedReply(response.status, response.headers, chunks())
        finally:
            response.release()

    async def aclose(self) -> None:
        sessions = [*self._unix.values(), *([self._session] if self._session is not None else [])]
        self._session, self._unix = None, {}
        for session in sessions:
            await session.close()


class HttpxTransport:
    """Any httpx transport (``httpx.MockTransport`` in unit tests) behind the same interface, through httpx's
    public transport API: the request it gets carries exactly the bytes :class:`PooledTransport` would send."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self.transport = transport

    async def _start(self, out: Outgoing) -> httpx.Response:
        try:
            request = httpx.Request(
                out.method, out.url, headers=out.headers, content=out.body, extensions={"timeout": dict(out.limits)}
            )
            return await self.transport.handle_async_request(request)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise BadURL(str(exc)) from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NotSent(str(exc)) from None
        except httpx.TimeoutException as exc:
            raise TimedOut(str(exc) or "timed out") from None
        except httpx.HTTPError as exc:
            raise AttemptError(str(exc)) from None

    @staticmethod
    def _headers(response: httpx.Response) -> CIMultiDictProxy[str]:
        return CIMultiDictProxy(CIMultiDict(response.headers.multi_items()))

    async def send(self, out: Outgoing) -> Reply:
        response = await self._start(out)
        try:
            data = await response.aread()
        except httpx.TimeoutException:
            raise TimedOut("timed out reading the response body") from None
        except httpx.HTTPError as exc:
            raise AttemptError(f"response body broken off: {exc}") from None
        finally:
            await response.aclose()
        headers = self._headers(response)
        return Reply(response.status_code, headers, _decoded(headers, data), out.method, out.url)

    @asynccontextmanager
    async def open(self, out: Outgoing) -> AsyncIterator[StreamedReply]:
        response = await self._start(out)
        try:
            yield StreamedReply(response.status_code, self._headers(response), response.aiter_raw())
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        await self.transport.aclose()


def _seconds(*parts: float | None) -> float | None:
    known = [p for p in parts if p is not None]
    return sum(known) if known else None


def _text(value: Any) -> str:
    """A query or form value as httpx wrote it: booleans in lower case, ``None`` empty."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


def _pairs(fields: Mapping[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in fields.items():
        for one in value if isinstance(value, list | tuple) else [value]:
            out.append((key, _text(one)))
    return out


def _multipart(fields: Mapping[str, Any], files: Mapping[str, Any]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body: each field, then each file as ``(filename, bytes, content type)``."""
    boundary = os.urandom(16).hex()
    parts: list[bytes] = []
    for name, value in _pairs(fields):
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n'
        parts += [head.encode(), value.encode(), b"\r\n"]
    for name, (filename, data, content_type) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"; '
            f'filename="{_quoted(filename)}"\r\nContent-Type: {content_type}\r\n\r\n'
        )
        parts += [head.encode(), bytes(data), b"\r\n"]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _quoted(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class ServiceClient:
    def __init__(
        self,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 3.0,
        retries: int = 2,
        backoff: float = 0.1,
        max_backoff: float = 2.0,
        token: str | None = None,
        shaper: TrafficShaper | None = None,
        transport: Transport | httpx.AsyncBaseTransport | None = None,
        max_connections: int = 64,
        token_to: Callable[[URL], bool] | None = None,
    ) -> None:
        """``token_to`` says which destinations get the token (default: all, for a client that only talks
        to Dayu's own components); any other destination gets no ``Authorization`` from this client."""
        if retries < 0 or not timeout > 0 or not connect_timeout > 0 or backoff < 0:
            raise InvalidInput(
                f"client needs retries >= 0, timeouts > 0 and backoff >= 0; got retries={retries}, "
                f"timeout={timeout}, connect_timeout={connect_timeout}, backoff={backoff}"
            )
        self.retries = retries
        self.retry_backoff = Backoff(backoff, max_backoff, jitter=True)  # many callers' retries spread out
        self.shaper = shaper
        self._authorization = f"Bearer {token}" if token else None
        self.token_to = token_to
        self._limits = {"connect": connect_timeout, "read": timeout, "write": timeout, "pool": timeout}
        if transport is None:
            transport = PooledTransport(max_connections=max_connections)
        elif isinstance(transport, httpx.AsyncBaseTransport):
            transport = HttpxTransport(transport)
        self.transport: Transport = transport
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True
        await self.transport.aclose()

    async def __aenter__(self) -> ServiceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _outgoing(self, method: str, url: str, timeout: float | None, kwargs: dict[str, Any]) -> Outgoing:
        """The call encoded once, whatever it carries; the token added for its destination only."""
        unknown = kwargs.keys() - _CALL_KWARGS
        if unknown:
            raise TypeError(f"ServiceClient.request got unexpected arguments {sorted(unknown)}")
        headers = {k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() not in HOP_BY_HOP}
        lower = {k.lower() for k in headers}
        body, content_type = self._body(kwargs)
        if content_type is not None and "content-type" not in lower:
            headers["content-type"] = content_type
        params = kwargs.get("params")
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(_pairs(params))}"
        wanted = self._authorization is not None and "authorization" not in lower
        if wanted and (self.token_to is None or self._token_goes_to(url)):
            headers["Authorization"] = self._authorization
        limits = self._limits if timeout is None else dict.fromkeys(self._limits, timeout)
        return Outgoing(method, url, headers, body, limits)

    def _token_goes_to(self, url: str) -> bool:
        assert self.token_to is not None
        try:
            return self.token_to(URL(url))
        except ValueError:
            return False  # a URL that does not parse goes nowhere; the transport says so

    @staticmethod
    def _body(kwargs: Mapping[str, Any]) -> tuple[bytes | AsyncIterable[bytes] | None, str | None]:
        content = kwargs.get("content")
        if isinstance(content, AsyncIterable):
            return content, None  # an upload streamed through (a video), never held whole
        if content is not None:
            return (content.encode() if isinstance(content, str) else bytes(content)), None
        if "json" in kwargs:
            text = json.dumps(kwargs["json"], ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            return text.encode(), "application/json"
        files, data = kwargs.get("files"), kwargs.get("data")
        if files:
            return _multipart(data or {}, files)
        if data:
            return urlencode(_pairs(data)).encode(), "application/x-www-form-urlencoded"
        return None, None

    async def request(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool | None = None,
        timeout: float | None = None,
        retries: int | None = None,
        node: str | None = None,
        nbytes: int = 0,
        raise_for_status: bool = True,
        **kwargs: Any,
    ) -> Reply:
        """Send one request; ``node``/``nbytes`` let the shaper delay it as the link would.

        A failed attempt is repeated (after :attr:`retry_backoff`'s wait) when that cannot do harm: nothing
        reached the server, or the call is ``idempotent`` (by default: its method is). A streamed body is
        sent once, its chunks being consumed by the first attempt."""
        method = method.upper()
        safe = idempotent if idempotent is not None else method in IDEMPOTENT_METHODS
        out = self._outgoing(method, url, timeout, kwargs)
        attempts = 1 if isinstance(out.body, AsyncIterable) else 1 + (self.retries if retries is None else retries)
        last: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self.retry_backoff.delay(attempt))
            try:
                response = await self._attempt(out, node, nbytes)
            except AttemptError as exc:
                final = _final_error(exc, method, url, safe)
                if final is not None:
                    raise final from None
                last = exc
                continue
            if response.status_code in RETRY_STATUSES and safe and attempt + 1 < attempts:
                last = TransportError(f"{method} {url} answered {response.status_code}", url=url)
                continue
            if raise_for_status and response.status_code >= 400:
                raise _error_from(method, url, response)
            return response
        raise _gave_up(method, url, attempts, last)

    async def _attempt(self, out: Outgoing, node: str | None, nbytes: int) -> Reply:
        if self.shaper is not None:
            await self.shaper.wait(node, nbytes)
        return await self.transport.send(out)

    @asynccontextmanager
    async def stream(
        self, method: str, url: str, *, timeout: float | None = None, **kwargs: Any
    ) -> AsyncIterator[StreamedReply]:
        """A response whose body is read as it arrives (exports); no retries, the caller checks the status."""
        method = method.upper()
        out = self._outgoing(method, url, timeout, kwargs)
        try:
            async with self.transport.open(out) as response:
                yield response
        except BadURL as exc:
            raise TransportError(f"{method} {url}: bad URL: {exc}", url=url) from None
        except TimedOut:
            raise UpstreamTimeout(f"{method} {url} timed out", url=url) from None
        except AttemptError as exc:
            raise TransportError(f"{method} {url} failed: {exc}", url=url) from None

    async def get_json(self, url: str, **kwargs: Any) -> Any:
        return (await self.request("GET", url, **kwargs)).json()

    async def post_json(self, url: str, body: Any, **kwargs: Any) -> Any:
        response = await self.request("POST", url, json=body, **kwargs)
        return response.json() if response.content else None

    async def get_model(self, url: str, model: type[M], **kwargs: Any) -> M:
        """``GET url`` and the reply parsed into ``model`` (the contract the server declares)."""
        return parse_reply(await self.request("GET", url, **kwargs), model)

    async def post_model(self, url: str, body: BaseModel | None, model: type[M], **kwargs: Any) -> M:
        """``POST`` ``body`` (a contract model, or nothing) and the reply parsed into ``model``."""
        content = body.model_dump_json().encode() if body is not None else b""
        headers = {**JSON_HEADERS, **kwargs.pop("headers", {})} if content else kwargs.pop("headers", None)
        response = await self.request("POST", url, content=content, headers=headers, **kwargs)
        return parse_reply(response, model)

    async def post_task(
        self,
        url: str,
        task: Task,
        payload: bytes | None = None,
        *,
        node: str | None = None,
        params: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Reply:
        """Send a task (and its segment bytes, when crossing nodes) as multipart."""
        parts = multipart_parts(task, payload)
        size = len(payload) if payload is not None else 0
        return await self.request("POST", url, node=node, nbytes=size, params=params, **parts, **kwargs)


def parse_reply(response: Reply, model: type[M]) -> M:
    """A success reply as ``model``; a reply outside the contract is the server's fault (502), said plainly."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "the body"
        raise TransportError(
            f"{response.method} {response.url} answered outside the {model.__name__} contract: {where}: {first['msg']}",
            url=response.url,
            status=response.status_code,
        ) from None


def _final_error(exc: AttemptError, method: str, url: str, safe: bool) -> DayuError | None:
    """The error a failed attempt ends the call with, or None when another attempt may follow."""
    if isinstance(exc, BadURL):  # a wrong URL stays wrong
        return TransportError(f"{method} {url}: bad URL: {exc}", url=url)
    if isinstance(exc, NotSent) or safe:  # nothing reached the server, or sending it again does no harm
        return None
    if isinstance(exc, TimedOut):
        return UpstreamTimeout(f"{method} {url} timed out", url=url)
    return TransportError(f"{method} {url} failed: {exc}", url=url)


def _gave_up(method: str, url: str, attempts: int, last: Exception | None) -> DayuError:
    """The error of a call whose every attempt failed, after the last failure."""
    if isinstance(last, TimedOut):
        return UpstreamTimeout(f"{method} {url} timed out after {attempts} attempt(s)", url=url)
    if isinstance(last, TransportError):
        return last
    return TransportError(f"{method} {url} failed after {attempts} attempt(s): {last}", url=url)


def _error_from(method: str, url: str, response: Reply) -> TransportError:
    message = response.text[:500]
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            message = str(body["error"].get("message", message))
    except ValueError:
        pass
    return TransportError(
        f"{method} {url} answered {response.status_code}: {message}", url=url, status=response.status_code
    )
