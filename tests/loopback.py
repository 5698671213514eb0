"""HTTP calls from a test to the servers it started on loopback, with a timeout fit for a loaded machine.

httpx's module-level calls wait 5 s for an answer by default. CI runs the suites on two cores beside
other work; at a load of 12-14 a server in the test's own process answered a validation error in more
than 5 s, and a test of the 400 it gives failed on the timeout instead. The answer itself, not how fast
it came, is what a test asserts (speed is the benchmarks' business), so every call here waits up to
:data:`TIMEOUT_S`; a test that needs a shorter wait says so with ``timeout=``.
"""

from __future__ import annotations

from typing import Any

import httpx

TIMEOUT_S = 60.0


def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    kwargs.setdefault("timeout", TIMEOUT_S)
    return httpx.request(method, url, **kwargs)


def get(url: str, **kwargs: Any) -> httpx.Response:
    return request("GET", url, **kwargs)


def post(url: str, **kwargs: Any) -> httpx.Response:
    return request("POST", url, **kwargs)


def put(url: str, **kwargs: Any) -> httpx.Response:
    return request("PUT", url, **kwargs)


def delete(url: str, **kwargs: Any) -> httpx.Response:
    return request("DELETE", url, **kwargs)


def patch(url: str, **kwargs: Any) -> httpx.Response:
    return request("PATCH", url, **kwargs)
