"""Traffic shaping in the transport: a link of given bandwidth (and delay) per destination node.

Used by the local runtime when the virtual nodes share this machine's network (no namespaces), so that
they still see the link speeds of the template. Transfers over one link queue behind each other, like
packets on a real link: each transfer books the link from the moment the previous one leaves it. The
bookings live in a :class:`Ledger`; with a :class:`FileLedger` (one small file per directed link under
the run directory, updated under ``flock``) every process sending over a link shares its one rate, as
senders share a real bottleneck. A link may follow a bandwidth :class:`~common.trace.Trace`.

An outage (a trace row at 0 Mbit/s) holds every transfer on the link until it ends, in both link modes:
here the booking simply carries no bits through it; where the kernel shapes the rate (namespace mode) a
transfer that starts in an outage waits for its end before it leaves. A link that would hold a sender
longer than ``MAX_QUEUE_S`` (a held trace that ends in an outage) refuses the transfer with
:class:`LinkSaturated`, never divides by the rate.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import math
import os
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from common.errors import InvalidInput, TransportError
from common.trace import Trace

log = logging.getLogger(__name__)

MAX_QUEUE_S = 60.0
"""A transfer that would hold its sender longer than this (queue plus its own time on the link) is refused."""
LOCK_TIMEOUT_S = 0.25


class LinkSaturated(TransportError):
    """A transfer would wait longer for (and on) its link than a sender may be held."""

    status_code = 503
    code = "link_saturated"


@dataclass(frozen=True)
class LinkSpec:
    bandwidth_mbps: float | None = None
    latency_ms: float = 0.0
    trace: Trace | None = None
    trace_start: float | None = None
    """Wall-clock time (epoch seconds) the trace's replay started; none: when this process started."""
    held: bool = False
    """The replay has not started yet: the link stays at the trace's first row until it does."""
    shape_rate: bool = True
    """False where the kernel shapes the rate (namespace mode): only the delay is added here."""

    def __post_init__(self) -> None:
        bandwidth = self.bandwidth_mbps
        if bandwidth is not None and not (math.isfinite(bandwidth) and bandwidth > 0):
            raise InvalidInput(f"link bandwidth must be a finite number > 0 Mbit/s, got {bandwidth}")
        if not (math.isfinite(self.latency_ms) and self.latency_ms >= 0):
            raise InvalidInput(f"link latency must be a finite number >= 0 ms, got {self.latency_ms}")

    @property
    def shaped(self) -> bool:
        return self.shape_rate and (self.bandwidth_mbps is not None or self.trace is not None)

    def rate_at(self, offset: float) -> float | None:
        """Mbit/s ``offset`` seconds into the trace (the fixed bandwidth when there is none)."""
        if self.trace is None:
            return self.bandwidth_mbps
        return self.trace.initial_rate() if self.held else self.trace.rate_at(offset)

    def delay_at(self, offset: float) -> float:
        """One-way delay in ms: the trace's when it has one, else the link's."""
        delay = self.trace.delay_at(0.0 if self.held else offset) if self.trace is not None else None
        return self.latency_ms if delay is None else delay

    def finish(self, offset: float, nbytes: int) -> float:
        """Trace time at which ``nbytes`` that start leaving at ``offset`` have left."""
        if not self.shape_rate:
            if self.trace is not None and not self.held:
                return self.trace.finish_time(offset, 0)  # the end of an outage it starts in
            return offset
        if self.trace is not None and self.held:
            return offset + nbytes * 8 / (self.trace.initial_rate() * 1e6)
        if self.trace is not None:
            return self.trace.finish_time(offset, nbytes * 8)
        if self.bandwidth_mbps is None:
            return offset
        return offset + nbytes * 8 / (self.bandwidth_mbps * 1e6)

    def seconds_for(self, nbytes: int) -> float:
        """Serialisation plus delay of ``nbytes`` on an idle link at the trace's start."""
        return self.finish(0.0, nbytes) + self.delay_at(0.0) / 1000.0

    def without_bandwidth(self) -> LinkSpec:
        """The same link with only its delay (the kernel shapes the rate in namespace mode)."""
        return LinkSpec(
            latency_ms=self.latency_ms,
            trace=self.trace,
            trace_start=self.trace_start,
            held=self.held,
            shape_rate=False,
        )


Finish = Callable[[float], float]
Links = Mapping[str, LinkSpec] | Callable[[], Mapping[str, LinkSpec]]
"""The links of a shaper: fixed, or read again on every use (a topology whose traces may start later)."""


class Ledger:
    """Where bookings of each link live: ``book`` returns (start, end) of a transfer on ``key``."""

    def book(self, key: str, now: float, finish: Finish, *, max_queue_s: float) -> tuple[float, float]:
        raise NotImplementedError


def _check_wait(key: str, end: float, now: float, max_queue_s: float) -> None:
    if end - now > max_queue_s:
        raise LinkSaturated(
            f"link {key} is saturated: a transfer would take {end - now:.1f}s (limit {max_queue_s:g}s)",
            url=key,
        )


class MemoryLedger(Ledger):
    """Bookings of this process only."""

    def __init__(self) -> None:
        self._busy_until: dict[str, float] = {}

    def book(self, key: str, now: float, finish: Finish, *, max_queue_s: float) -> tuple[float, float]:
        start = max(now, self._busy_until.get(key, now))
        end = finish(start)
        _check_wait(key, end, now, max_queue_s)
        self._busy_until[key] = end
        return start, end


class FileLedger(Ledger):
    """Bookings shared by every process on this machine: one 8-byte file per link, locked with ``flock``.

    Times are ``time.monotonic()``, one clock for all processes of a Linux machine. A lock held too long
    (a process stopped while holding it cannot: the kernel drops it with the file) books in this
    process's memory instead, with a warning, so a transfer never waits on the lock unboundedly.
    """

    def __init__(self, directory: str | Path, *, lock_timeout: float = LOCK_TIMEOUT_S) -> None:
        self.directory = Path(directory)
        self.lock_timeout = lock_timeout
        self._fallback = MemoryLedger()

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.link"

    def book(self, key: str, now: float, finish: Finish, *, max_queue_s: float) -> tuple[float, float]:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path(key), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if not self._lock(fd):
                log.warning(
                    "link %s: lock not taken within %.2fs, booking in this process only", key, self.lock_timeout
                )
                return self._fallback.book(key, now, finish, max_queue_s=max_queue_s)
            raw = os.pread(fd, 8, 0)
            busy = struct.unpack("<d", raw)[0] if len(raw) == 8 else now
            start = max(now, busy if math.isfinite(busy) else now)
            end = finish(start)
            _check_wait(key, end, now, max_queue_s)
            os.pwrite(fd, struct.pack("<d", end), 0)
            return start, end
        finally:
            os.close(fd)  # releases the lock

    def _lock(self, fd: int) -> bool:
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() >= deadline:
                    return False
            time.sleep(0.0005)


class TrafficShaper:
    """Delays each transfer to a node as the link to it would.

    ``source`` names this process's node: bookings are kept per directed link ``source--destination``,
    so with a shared ledger all senders of one node share each of its outgoing links.
    """

    def __init__(
        self,
        links: Links,
        *,
        source: str = "local",
        ledger: Ledger | None = None,
        max_queue_s: float = MAX_QUEUE_S,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], object] = asyncio.sleep,
    ) -> None:
        if callable(links):
            self._links = links
        else:
            fixed = dict(links)
            self._links = lambda: fixed
        self.source = source
        self.ledger = ledger or MemoryLedger()
        self.max_queue_s = max_queue_s
        self._clock = clock
        self._wall = wall
        self._sleep = sleep
        self._started = wall()

    def link(self, node: str | None) -> LinkSpec | None:
        return None if node is None else self._links().get(node)

    def trace_offset(self, spec: LinkSpec, at: float | None = None) -> float:
        """Seconds into ``spec``'s trace at monotonic time ``at`` (default: now)."""
        now = self._clock()
        moment = now if at is None else at
        origin = spec.trace_start if spec.trace_start is not None else self._started
        return self._wall() - origin + (moment - now)

    def current(self, node: str | None) -> dict[str, float | None] | None:
        """The link to ``node`` as it is now: rate and delay (None when there is no link)."""
        spec = self.link(node)
        if spec is None:
            return None
        offset = self.trace_offset(spec)
        return {"bandwidth_mbps": spec.rate_at(offset), "latency_ms": spec.delay_at(offset)}

    def reserve(self, node: str | None, nbytes: int) -> float:
        """Book ``nbytes`` on the link to ``node``; returns how long the caller must wait."""
        if nbytes < 0:
            raise InvalidInput(f"cannot send a negative number of bytes ({nbytes})")
        spec = self.link(node)
        if spec is None or node is None:
            return 0.0
        now = self._clock()
        if not spec.shaped:
            offset = self.trace_offset(spec, now)
            held = spec.finish(offset, nbytes) - offset  # an outage, where the kernel shapes the rate
            _check_wait(f"{self.source}--{node}", held, 0.0, self.max_queue_s)
            return held + spec.delay_at(offset + held) / 1000.0
        base = self.trace_offset(spec, now) - now  # trace time = monotonic time + base

        def finish(start: float) -> float:
            return spec.finish(start + base, nbytes) - base

        start, end = self.ledger.book(f"{self.source}--{node}", now, finish, max_queue_s=self.max_queue_s)
        return (end - now) + spec.delay_at(start + base) / 1000.0

    async def wait(self, node: str | None, nbytes: int) -> float:
        delay = self.reserve(node, nbytes)
        if delay > 0:
            await self._sleep(delay)  # type: ignore[misc]
        return delay
