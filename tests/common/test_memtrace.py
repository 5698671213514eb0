"""``common.memtrace``: the opt-in tracemalloc snapshots every component writes on SIGUSR2.

The server test runs a real component (``create_service`` under uvicorn, its own process) and sends it the
real signal; nothing is faked."""

from __future__ import annotations

import inspect
import json
import os
import platform
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from common import memtrace
from common.errors import ConfigError
from tests.common import memtrace_app
from tests.servers import spawn

WAIT_S = 60.0  # generous: a loaded 2-core machine; a snapshot takes well under a second


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {WAIT_S}s"
        time.sleep(0.05)


def snapshots(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*{memtrace.SUFFIX}"))


def test_a_real_server_names_the_site_that_grew(tmp_path: Path) -> None:
    env = {memtrace.ENV_FRAMES: "5", memtrace.ENV_DIR: str(tmp_path)}
    with spawn("tests.common.memtrace_app", env) as (process, url):
        marker = memtrace.armed(tmp_path, process.pid)
        wait_for(marker.exists, "the process says it handles the snapshot signal")
        assert marker.read_text() == "memtrace-probe"
        os.kill(process.pid, memtrace.SNAPSHOT_SIGNAL)
        wait_for(lambda: len(snapshots(tmp_path)) == 1, "the first snapshot")
        with httpx.Client(timeout=30) as client:
            for n in range(1, 41):
                assert client.post(f"{url}/grow").json() == {"held": n}
        os.kill(process.pid, memtrace.SNAPSHOT_SIGNAL)
        wait_for(lambda: len(snapshots(tmp_path)) == 2, "the second snapshot")
        assert process.poll() is None  # the signal wrote a snapshot; it did not end the process
    first, second = snapshots(tmp_path)
    assert first.name.startswith(f"memtrace-probe-{process.pid}-")
    top = memtrace.top_growth(memtrace.load(first), memtrace.load(second), limit=3)
    source, start = inspect.getsourcelines(memtrace_app.hold_chunk)
    site = start + next(i for i, line in enumerate(source) if "bytearray(" in line)
    expected = f"{Path(memtrace_app.__file__).resolve()}:{site}"
    assert top[0].traceback[0] == expected, [g.line() for g in top]
    assert top[0].count_diff >= 40
    assert top[0].size_diff >= 40 * memtrace_app.CHUNK_BYTES
    assert len(top[0].traceback) > 1  # the stack, not only the innermost line: who called it
    # Beside each snapshot, the process-wide figures: traced bytes grew by what the route holds.
    before, after = (json.loads(memtrace.stats_path(p).read_text()) for p in (first, second))
    assert after["traced"] - before["traced"] >= 40 * memtrace_app.CHUNK_BYTES
    assert after["rss"] > 0 and after["tracing"] > 0
    if platform.libc_ver()[0] == "glibc":
        assert after["malloc"]["uordblks"] > 0 and after["malloc"]["arena"] >= after["malloc"]["fordblks"]


def test_off_unless_asked() -> None:
    assert memtrace.install("svc", environ={}) is None
    assert memtrace.frames_from_env({memtrace.ENV_FRAMES: " "}) is None
    assert not tracemalloc.is_tracing()


def test_only_the_named_services_trace() -> None:
    asked = {memtrace.ENV_FRAMES: "4", memtrace.ENV_SERVICES: " backend, scheduler "}
    assert memtrace.traces_service("backend", asked) and memtrace.traces_service("scheduler", asked)
    assert not memtrace.traces_service("controller", asked)
    # Unset or empty: every service traces.
    assert memtrace.traces_service("controller", {memtrace.ENV_FRAMES: "4"})
    assert memtrace.traces_service("controller", {memtrace.ENV_FRAMES: "4", memtrace.ENV_SERVICES: " , "})
    # A service left out starts nothing: no tracing, no signal handler, no marker.
    assert memtrace.install("controller", environ=asked) is None
    assert not tracemalloc.is_tracing()


def test_a_name_that_is_no_service_is_refused_not_left_untraced() -> None:
    misspelt = {memtrace.ENV_FRAMES: "4", memtrace.ENV_SERVICES: "backend,schedular"}
    with pytest.raises(ConfigError, match="names no service: schedular"):
        memtrace.traces_service("backend", misspelt)
    with pytest.raises(ConfigError, match="schedular"):
        memtrace.install("backend", environ=misspelt)
    assert not tracemalloc.is_tracing()
    # Tracing off: the variable is not looked at, so a stale one never stops a process.
    assert memtrace.install("backend", environ={memtrace.ENV_SERVICES: "schedular"}) is None


@pytest.mark.parametrize("raw", ["yes", "0", "101", "-3"])
def test_a_bad_frame_count_is_named(raw: str) -> None:
    with pytest.raises(ConfigError, match=memtrace.ENV_FRAMES):
        memtrace.frames_from_env({memtrace.ENV_FRAMES: raw})


KEPT_LINE = next(i for i, line in enumerate(Path(__file__).read_text().splitlines(), 1) if line.endswith("# KEPT"))


def test_the_diff_command_prints_the_growth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tracemalloc.start(3)
    try:
        tracer = memtrace.Tracer(service="cli", directory=tmp_path, frames=3)
        old = tracer.dump()
        kept = [bytes(4096) for _ in range(50)]  # KEPT
        new = tracer.dump()
    finally:
        tracemalloc.stop()
    assert len(kept) == 50
    assert memtrace.main(["diff", str(old), str(new), "--top", "2", "--key", "lineno"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("traced live memory +")
    assert out[1].startswith("process (MiB): rss ")
    out = out[1:]
    # The 50 bytes objects (and the list holding them), at the comprehension's line, come first.
    assert out[1].endswith("test_memtrace.py:" + str(KEPT_LINE)), out
    assert float(out[1].split()[0]) >= 50 * 4096 / 1024
