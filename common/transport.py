"""The one inter-service HTTP client: pooled, per-call timeouts, bounded retries, optional shaping.

Retries happen only where repeating is safe: idempotent calls (GET, PUT, DELETE, or ``idempotent=True``)
on timeouts, connection errors and 502/503/504; any call when the connection could not be made at
all (nothing was sent). Unit tests swap the transport for ``httpx.MockTransport``.

The default transport is :class:`PooledTransport`: aiohttp's pool moves the bytes. httpcore's own pool
checks every pooled connection's socket on each request, which costs milliseconds per call once a busy
controller keeps dozens of connections open. A call that carries only a body and headers (every call of
the data plane) goes straight to that pool (:meth:`PooledTransport.fetch`): httpx's request building,
auth and redirect handling above it cost more CPU than the pool itself. Any other call (``json=``,
``params=``, multipart, streams) is built and read by httpx over the same pool.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import aiohttp
import httpx
from pydantic import BaseModel, ValidationError

from common.errors import InvalidInput, TransportError, UpstreamTimeout
from common.shaping import TrafficShaper
from common.task import Task
from common.wire import multipart_parts

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host"})
KEEPALIVE_S = 4.0
"""Idle pooled connections are closed before uvicorn's own 5 s keep-alive ends them under a request."""
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({502, 503, 504})
M = TypeVar("M", bound=BaseModel)
JSON_HEADERS = {"content-type": "application/json"}
_DIRECT_KWARGS = frozenset({"content", "headers"})
"""The arguments a call may carry and still go straight to the pool."""


class _ResponseStream(httpx.AsyncByteStream):
    """The body of an aiohttp response, read as httpx asks for it; closing it frees the connection."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(64 * 1024):
                yield chunk
        except TimeoutError:
            raise httpx.ReadTimeout("timed out reading the response body") from None
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
            raise httpx.ReadError(f"response body broken off: {exc}") from None

    async def aclose(self) -> None:
        self._response.release()


class _ReadWhole(httpx.Response):
    """A reply the pool read whole (:meth:`ServiceClient._exchange`), as an httpx response without the parts
    that cost more than the call itself: httpx re-reading the body it is given, and parsing the URL of the
    request it names (made only when asked for, e.g. for an error message)."""

    def __init__(self, status: int, headers: list[tuple[str, str]], content: bytes, method: str, url: str) -> None:
        if any(k.lower() == "content-encoding" and v.strip().lower() != "identity" for k, v in headers):
            super().__init__(status, headers=headers, content=content)  # httpx decodes it, as on its own path
        else:
            super().__init__(status, headers=headers, stream=httpx.ByteStream(content))
            self._content = content
        self._method, self._url = method, url

    @property
    def request(self) -> httpx.Request:
        if self._request is None:
            self._request = httpx.Request(self._method, self._url)
        return self._request

    @request.setter
    def request(self, value: httpx.Request) -> None:
        self._request = value


class PooledTransport(httpx.AsyncBaseTransport):
    """An httpx transport over one aiohttp connection pool (created on first use, inside the loop)."""

    def __init__(self, *, max_connections: int = 64) -> None:
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections, limit_per_host=0, keepalive_timeout=KEEPALIVE_S, use_dns_cache=True
            )
            # httpx decodes content-encoding and sets its own default headers: aiohttp must add nothing.
            # No component sets cookies: without a jar no request filters one (it costs on every call).
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def _send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Any,
        limits: Mapping[str, float | None],
        request: httpx.Request | None = None,
    ) -> aiohttp.ClientResponse:
        """Send one request and wait for the answer's headers; aiohttp's errors as httpx's exceptions."""
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
                return await self._open().request(
                    method, url, data=body if body else None, headers=headers, timeout=timeout, allow_redirects=False
                )
        except aiohttp.InvalidURL as exc:
            raise httpx.InvalidURL(f"{url}: {exc}") from None
        except aiohttp.ConnectionTimeoutError:
            raise httpx.ConnectTimeout("timed out connecting", request=request) from None
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from None
        except TimeoutError:  # aiohttp's read timeouts are TimeoutErrors too: checked before connection errors
            raise httpx.ReadTimeout("timed out waiting for the response", request=request) from None
        except aiohttp.ServerDisconnectedError as exc:
            raise httpx.RemoteProtocolError(f"server disconnected: {exc}", request=request) from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as exc:
            raise httpx.ReadError(str(exc), request=request) from None

    async def fetch(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str], limits: Mapping[str, float | None]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """One whole exchange straight on the pool: status, headers and the body read to its end."""
        if not url.startswith(("http://", "https://")):
            raise httpx.UnsupportedProtocol(f"unsupported scheme in {url!r}")
        response = await self._send(method, url, body, headers, limits)
        try:
            data = await response.read()
        except TimeoutError:
            raise httpx.ReadTimeout("timed out reading the response body") from None
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
            raise httpx.ReadError(f"response body broken off: {exc}") from None
        finally:
            response.release()
        raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers]
        return response.status, raw, data

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported scheme {request.url.scheme!r}", request=request)
        limits = request.extensions.get("timeout", {})
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        headers = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
        body = await request.aread()
        response = await self._send(request.method, str(request.url), body, headers, limits, request)
        return httpx.Response(
            response.status,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers],
            stream=_ResponseStream(response),
            request=request,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _seconds(*parts: float | None) -> float | None:
    known = [p for p in parts if p is not None]
    return sum(known) if known else None


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
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 64,
        token_to: Callable[[httpx.URL], bool] | None = None,
    ) -> None:
        """``token_to`` says which destinations get the token (default: all, for a client that only talks
        to Dayu's own components); any other destination gets no ``Authorization`` from this client."""
        if retries < 0 or not timeout > 0 or not connect_timeout > 0 or backoff < 0:
            raise InvalidInput(
                f"client needs retries >= 0, timeouts > 0 and backoff >= 0; got retries={retries}, "
                f"timeout={timeout}, connect_timeout={connect_timeout}, backoff={backoff}"
            )
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.shaper = shaper
        self._authorization = f"Bearer {token}" if token else None
        self.token_to = token_to
        self._limits = {"connect": connect_timeout, "read": timeout, "write": timeout, "pool": timeout}
        pooled = transport or PooledTransport(max_connections=max_connections)
        self._pool = pooled if isinstance(pooled, PooledTransport) else None
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            transport=pooled,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> ServiceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _authorize(self, url: str, kwargs: dict[str, Any]) -> None:
        """Add the token for this destination only: per request, never as a client-wide default."""
        if self._authorization is None:
            return
        if self.token_to is not None and not self.token_to(httpx.URL(url)):
            return
        headers = httpx.Headers(kwargs.get("headers"))
        if "authorization" not in headers:
            headers["Authorization"] = self._authorization
        kwargs["headers"] = headers

    def _direct_headers(self, url: str, headers: Mapping[str, str] | None) -> dict[str, str]:
        """The caller's headers plus the token (as :meth:`_authorize` adds it), for :meth:`PooledTransport.fetch`."""
        out = {k: v for k, v in (headers or {}).items() if k.lower() not in HOP_BY_HOP}
        if self._authorization is None or any(k.lower() == "authorization" for k in out):
            return out
        if self.token_to is None or self.token_to(httpx.URL(url)):
            out["Authorization"] = self._authorization
        return out

    async def _exchange(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        limits: Mapping[str, float | None],
    ) -> httpx.Response:
        assert self._pool is not None
        status, raw, data = await self._pool.fetch(method, url, body, headers, limits)
        return _ReadWhole(status, raw, data, method, url)

    def _delay(self, attempt: int) -> float:
        base: float = min(self.max_backoff, self.backoff * (2**attempt))
        return base * (0.5 + random.random() / 2)  # jitter so retries of many callers spread out

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
    ) -> httpx.Response:
        """Send one request; ``node``/``nbytes`` let the shaper delay it as the link would."""
        method = method.upper()
        safe = idempotent if idempotent is not None else method in IDEMPOTENT_METHODS
        attempts = 1 + (self.retries if retries is None else retries)
        # A body and headers only: straight to the pool (see the module doc); anything else through httpx.
        content = kwargs.get("content")
        direct = self._pool is not None and kwargs.keys() <= _DIRECT_KWARGS and isinstance(content, bytes | str | None)
        if direct:
            body = content.encode() if isinstance(content, str) else content
            headers = self._direct_headers(url, kwargs.get("headers"))
            limits = self._limits if timeout is None else dict.fromkeys(self._limits, timeout)
        else:
            if timeout is not None:
                kwargs["timeout"] = timeout
            self._authorize(url, kwargs)
        last: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._delay(attempt - 1))
            try:
                if self.shaper is not None:
                    await self.shaper.wait(node, nbytes)
                if direct:
                    response = await self._exchange(method, url, body, headers, limits)
                else:
                    response = await self._client.request(method, url, **kwargs)
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:  # a wrong URL stays wrong
                raise TransportError(f"{method} {url}: bad URL: {exc}", url=url) from None
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Nothing reached the server: always safe to retry, whatever the method.
                last = exc
                continue
            except httpx.TimeoutException as exc:
                last = exc
                if safe:
                    continue
                raise UpstreamTimeout(f"{method} {url} timed out", url=url) from None
            except httpx.HTTPError as exc:
                last = exc
                if safe:
                    continue
                raise TransportError(f"{method} {url} failed: {exc}", url=url) from None
            if response.status_code in RETRY_STATUSES and safe and attempt + 1 < attempts:
                last = TransportError(f"{method} {url} answered {response.status_code}", url=url)
                continue
            if raise_for_status and response.status_code >= 400:
                raise _error_from(method, url, response)
            return response
        if isinstance(last, httpx.TimeoutException):
            raise UpstreamTimeout(f"{method} {url} timed out after {attempts} attempt(s)", url=url)
        if isinstance(last, TransportError):
            raise last
        raise TransportError(f"{method} {url} failed after {attempts} attempt(s): {last}", url=url)

    def stream(self, method: str, url: str, **kwargs: Any) -> AbstractAsyncContextManager[httpx.Response]:
        """A response whose body is read as it arrives (exports); no retries, the caller checks the status."""
        self._authorize(url, kwargs)
        return self._client.stream(method.upper(), url, **kwargs)

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
    ) -> httpx.Response:
        """Send a task (and its segment bytes, when crossing nodes) as multipart."""
        parts = multipart_parts(task, payload)
        size = len(payload) if payload is not None else 0
        return await self.request("POST", url, node=node, nbytes=size, params=params, **parts, **kwargs)


def parse_reply(response: httpx.Response, model: type[M]) -> M:
    """A success reply as ``model``; a reply outside the contract is the server's fault (502), said plainly."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "the body"
        request = response.request
        raise TransportError(
            f"{request.method} {request.url} answered outside the {model.__name__} contract: {where}: {first['msg']}",
            url=str(request.url),
            status=response.status_code,
        ) from None


def _error_from(method: str, url: str, response: httpx.Response) -> TransportError:
    message = response.text[:500]
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            message = str(body["error"].get("message", message))
    except ValueError:
        pass
    error = TransportError(
        f"{method} {url} answered {response.status_code}: {message}", url=url, status=response.status_code
    )
    return error
