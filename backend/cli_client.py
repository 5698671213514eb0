"""``dayuctl``'s client of the backend API: where the backend is, and every reply parsed into its contract.

Each call names the model of ``backend/contracts`` its route declares; a reply outside it (a field missing
or of the wrong type, a body that is not JSON) is a :class:`CliError` naming the route, the model and the
field, shown as one line with exit status 1, never a traceback or a table of guesses.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from common.contracts.ops import ErrorBody

M = TypeVar("M", bound=BaseModel)


class CliError(Exception):
    """Shown as one plain line; the exit status is 1."""


def find_dayu_dir(start: Path) -> Path | None:
    for directory in [start, *start.parents]:
        candidate = directory / ".dayu"
        if (candidate / "token").is_file():
            return candidate
    return None


def resolve_target(url: str | None, token: str | None) -> tuple[str, str | None]:
    origin = "--url" if url else "$DAYU_URL"
    url = url or os.environ.get("DAYU_URL")
    token = token or os.environ.get("DAYU_TOKEN")
    dayu = find_dayu_dir(Path.cwd())
    if dayu is not None:
        if url is None and (dayu / "run" / "backend.url").is_file():
            origin = str(dayu / "run" / "backend.url")
            url = (dayu / "run" / "backend.url").read_text().strip()
        if token is None:
            token = (dayu / "token").read_text().strip()
    if url is None:
        raise CliError("no backend found: start one with dayu.sh, or give --url (or DAYU_URL)")
    check_url(url, origin)
    return url.rstrip("/"), token


def check_url(url: str, origin: str) -> None:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise CliError(f"{origin}: not a URL ({exc}): {url!r}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise CliError(f"{origin}: expected http(s)://host:port, got {url!r}")


class Api:
    """The backend API, each route's reply as its model."""

    def __init__(self, url: str, token: str | None, timeout: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url, headers=headers, timeout=timeout, trust_env=False)
        self.url = url

    def get(self, path: str, reply: type[M], **kwargs: Any) -> M:
        return self.call("GET", path, reply, **kwargs)

    def post(self, path: str, reply: type[M], **kwargs: Any) -> M:
        return self.call("POST", path, reply, **kwargs)

    def call(self, method: str, path: str, reply: type[M], **kwargs: Any) -> M:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach the backend at {self.url}: {exc}") from None
        if response.status_code >= 400:
            raise CliError(f"{method} {path}: {response.status_code}: {error_message(response)}")
        return parse_reply(method, path, response.content, reply)

    @contextmanager
    def stream(self, path: str, params: dict[str, str], timeout: float) -> Iterator[httpx.Response]:
        """``GET path`` read as it arrives (an export); an error reply is a :class:`CliError`."""
        with self.http.stream("GET", path, params=params, timeout=timeout) as response:
            if response.status_code >= 400:
                response.read()
                raise CliError(f"GET {path}: {response.status_code}: {response.text[:300]}")
            yield response


def error_message(response: httpx.Response) -> str:
    """The message of the backend's error body; a body of another shape (a proxy's page) as its start."""
    try:
        return ErrorBody.model_validate_json(response.content).error.message
    except ValidationError:
        return response.text[:300]


def parse_reply(method: str, path: str, content: bytes, reply: type[M]) -> M:
    try:
        return reply.model_validate_json(content)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "the body"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise CliError(
            f"{method} {path}: the backend answered outside the {reply.__name__} contract: "
            f"{where}: {first['msg']}{more}"
        ) from None
