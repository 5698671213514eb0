"""Shared fixtures. Servers run for real on loopback; ports are picked free by the OS."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.servers import free_port

SET_BY_OTHERS = frozenset({"PYTEST_CURRENT_TEST", "LD_LIBRARY_PATH", "TORCHINDUCTOR_CACHE_DIR"})
"""Variables changed under a test by libraries: pytest names the running test; OpenCV adds its libraries'
folder to ``LD_LIBRARY_PATH`` the first time it is imported, and PyTorch writes the folder of its
compiler's cache there the first time it looks it up, both possibly inside a test."""


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture(autouse=True)
def environment_left_as_found() -> Iterator[None]:
    """A test that leaves a variable in this process's environment fails, and the environment is restored.

    Every later test's in-process servers read it: a test that left ``DAYU_TRACEMALLOC`` behind had every
    server after it trace its allocations, and the rest of the suite ran ten times slower with no failure
    to say why. Tests set variables through ``monkeypatch`` (undone after) or pass them to the processes
    they start."""
    before = dict(os.environ)
    yield
    after = dict(os.environ)
    changed = sorted(
        name for name in set(before) | set(after) if name not in SET_BY_OTHERS and before.get(name) != after.get(name)
    )
    if changed:
        for name in changed:
            if name in before:
                os.environ[name] = before[name]
            else:
                del os.environ[name]
        pytest.fail(f"the test left its process's environment changed: {', '.join(changed)}", pytrace=False)
