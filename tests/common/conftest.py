"""The ``serve`` fixture: real uvicorn servers for a test, all stopped when it ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from starlette.types import ASGIApp

from tests.servers import serve as running


@pytest.fixture
def serve() -> Iterator[Callable[[ASGIApp], str]]:
    """``serve(app)`` starts a server for the test and returns its URL; all stop at the test's end."""
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(running(app))
