"""Shared fixtures. Servers run for real on loopback; ports are picked free by the OS."""

from __future__ import annotations

import pytest

from tests.servers import free_port


@pytest.fixture
def port() -> int:
    return free_port()
