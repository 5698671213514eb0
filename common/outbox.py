"""A bounded, persistent outbox for records that must reach the distributor (results and drop records).

:meth:`Outbox.deliver` sends a record at once (with the caller's bounded retries); when the distributor
cannot be reached the record is appended to a JSON-lines spool in the component's work dir and a
background task re-sends the spool, oldest first, with bounded exponential backoff. At start-up the spool
is read again, so a restart loses nothing. The spool is bounded by records and bytes: when full the
oldest record is discarded and counted. The distributor ignores repeated records, so sending one twice
(a crash between sending and rewriting the spool) is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from common.backoff import Backoff
from common.contracts.distributor import MAX_RESULT_BATCH
from common.contracts.ops import OutboxStatus
from common.errors import DayuError, TransportError
from common.metrics import ServiceMetrics
from common.transport import ServiceClient

log = logging.getLogger(__name__)

Kind = Literal["results", "drops"]
KINDS: tuple[Kind, ...] = ("results", "drops")
Outcome = Literal["sent", "spooled", "rejected", "discarded"]
SPOOL_DIR = ".outbox"
"""A sub-directory of the work dir: the controller's segment cleanup only removes plain files at the top."""


class OutboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_max: int = Field(
        64,
        ge=1,
        le=MAX_RESULT_BATCH,
        description="Results sent in one call at most (POST /results/batch); 1: one call per result.",
    )
    max_records: int = Field(10_000, ge=1, le=10_000_000, description="Records the spool holds at most.")
    max_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="Bytes the spool holds at most.")
    retry_initial_s: float = Field(0.5, gt=0, le=60, description="First wait before re-sending the spool.")
    retry_max_s: float = Field(10.0, gt=0, le=600, description="Longest wait between re-sending attempts.")
    send_timeout_s: float = Field(10.0, gt=0, le=300, description="One re-send of one record.")
    close_timeout_s: float = Field(2.0, gt=0, le=60, description="How long stopping waits for a send under way.")


@dataclass
class _Entry:
    kind: Kind
    body: str
    size: int


@dataclass
class _Waiting:
    """A result waiting for its turn in a batch; ``outcome`` is resolved once it is sent or spooled."""

    body: str
    retries: int
    outcome: asyncio.Future[Outcome]


def _rejected(exc: DayuError) -> bool:
    """A 4xx answer will not change on a retry (other than a timeout or rate limit): the record is refused."""
    status = exc.status if isinstance(exc, TransportError) else None
    return status is not None and 400 <= status < 500 and status not in (408, 429)


class Outbox:
    """Delivers records to the distributor; what cannot be delivered now waits in a bounded spool on disk."""

    def __init__(
        self,
        path: Path,
        *,
        client: ServiceClient,
        distributor_url: Callable[[], str],
        config: OutboxConfig | None = None,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.path = path
        self.client = client
        self.distributor_url = distributor_url
        self.config = config or OutboxConfig()
        self._entries: deque[_Entry] = deque()
        self._bytes = 0
        self._sending: _Entry | None = None
        self._evicted_while_sending = False
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        # Results waiting to be sent: at most one call to the distributor at a time sends them, so the
        # results that finish while one is under way go together in the next (bounded by the callers in
        # flight, each waiting for its own outcome).
        self._waiting: deque[_Waiting] = deque()
        self._batch_lock = asyncio.Lock()
        self.batches = {"calls": 0, "records": 0}
        self.counts = {"spooled": 0, "delivered_later": 0, "discarded": 0, "rejected": 0, "skipped_lines": 0}
        self._pending = self._delivered = self._discarded = None
        if metrics is not None:
            self._pending = metrics.gauge("outbox_pending", "Records waiting in the outbox spool")
            self._delivered = metrics.counter("outbox_delivered_total", "Spooled records delivered later")
            self._discarded = metrics.counter("outbox_discarded_total", "Records lost: spool full or refused")

    # -- lifecycle ----------------------------------------------------------------------------
    def open(self) -> None:
        """Read the spool left by an earlier run (bad lines skipped with a warning) and start re-sending."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._load()
        if self._loop is None:
            self._loop = asyncio.create_task(self._resend_loop(), name=f"outbox-{self.path.name}")
        if self._entries:
            log.info("outbox %s: %d record(s) from an earlier run to deliver", self.path, len(self._entries))
            self._wake.set()

    async def close(self) -> None:
        """Stop re-sending (bounded); what is still pending stays on disk for the next start."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.gather(self._loop, return_exceptions=True), self.config.close_timeout_s)
            self._loop = None
        self._rewrite()

    # -- delivery -----------------------------------------------------------------------------
    async def deliver(self, kind: Kind, body: str, *, retries: int) -> Outcome:
        """Send ``body`` (JSON) to the distributor's ``POST /<kind>``; spool it when that fails.

        Results go in batches (:meth:`_batched`): with ``batch_max`` > 1, one call carries the results that
        finished while the previous call was under way, each still answered with its own outcome."""
        if kind == "results" and self.config.batch_max > 1:
            return await self._batched(body, retries)
        return await self._deliver_one(kind, body, retries=retries)

    async def _batched(self, body: str, retries: int) -> Outcome:
        me = _Waiting(body, retries, asyncio.get_running_loop().create_future())
        self._waiting.append(me)
        try:
            while not me.outcome.done():
                # The lock is fair: a caller whose result went in an earlier batch finds it answered at once.
                async with self._batch_lock:
                    if not me.outcome.done():
                        await self._send_batch()
        except asyncio.CancelledError:
            if me in self._waiting:  # never sent: nothing of it reached the distributor
                self._waiting.remove(me)
            raise
        return me.outcome.result()

    async def _send_batch(self) -> None:
        """Send the oldest waiting results (``batch_max`` at most) in one call and answer each of them."""
        group = [self._waiting.popleft() for _ in range(min(self.config.batch_max, len(self._waiting)))]
        try:
            if len(group) == 1:
                outcome = await self._deliver_one("results", group[0].body, retries=group[0].retries)
                group[0].outcome.set_result(outcome)
                return
            # The records are JSON already: the batch is written around them, not parsed and written again.
            payload = '{"tasks":[' + ",".join(w.body for w in group) + "]}"
            try:
                await self._send("results/batch", payload, retries=max(w.retries for w in group), timeout=None)
            except DayuError as exc:
                if not _rejected(exc):
                    log.warning("distributor unreachable (results): spooling %d records: %s", len(group), exc)
                    for waiting in group:
                        waiting.outcome.set_result(self.put("results", waiting.body))
                    return
                # A record the distributor refuses, or a distributor without batches: each on its own, so
                # only a bad record is refused.
                log.info("the distributor refused a batch of %d results, sending each: %s", len(group), exc)
                for waiting in group:
                    outcome = await self._deliver_one("results", waiting.body, retries=waiting.retries)
                    waiting.outcome.set_result(outcome)
                return
            self.batches["calls"] += 1
            self.batches["records"] += len(group)
            for waiting in group:
                waiting.outcome.set_result("sent")
        finally:
            # Stopped (cancelled) halfway: what this call may not have delivered waits in the spool.
            for waiting in group:
                if not waiting.outcome.done():
                    waiting.outcome.set_result(self.put("results", waiting.body))

    async def _deliver_one(self, kind: Kind, body: str, *, retries: int) -> Outcome:
        try:
            await self._send(kind, body, retries=retries, timeout=None)
            return "sent"
        except DayuError as exc:
            if _rejected(exc):
                self._lose("rejected")
                log.error("the distributor refused a record (%s): %s", kind, exc)
                return "rejected"
            log.warning("distributor unreachable (%s): spooling the record: %s", kind, exc)
        return self.put(kind, body)

    def put(self, kind: Kind, body: str) -> Outcome:
        """Append one record to the spool, discarding the oldest ones while it is over its bounds."""
        if kind not in KINDS:
            raise ValueError(f"unknown outbox kind {kind!r}; known: {', '.join(KINDS)}")
        entry = _Entry(kind, body, len(_line(kind, body)))
        if entry.size > self.config.max_bytes:
            self._lose("discarded")
            log.error(
                "a record of %d bytes exceeds the outbox of %d bytes: discarded", entry.size, self.config.max_bytes
            )
            return "discarded"
        self._entries.append(entry)
        self._bytes += entry.size
        self.counts["spooled"] += 1
        evicted = self._enforce_bounds()
        try:
            if evicted:
                self._rewrite()
            else:
                self._append(entry)
        except OSError as exc:  # e.g. a full disk: the record still waits in memory while this process runs
            log.error("outbox %s: cannot write the spool, the record is kept in memory only: %s", self.path, exc)
        self._gauge()
        self._wake.set()
        return "spooled"

    async def _send(self, path: str, body: str, *, retries: int, timeout: float | None) -> None:
        url = f"{self.distributor_url()}/{path}"
        await self.client.request(
            "POST",
            url,
            content=body.encode(),
            headers={"content-type": "application/json"},
            idempotent=True,  # the distributor ignores a repeated record
            retries=retries,
            timeout=timeout,
        )

    async def _resend_loop(self) -> None:
        backoff = Backoff(self.config.retry_initial_s, self.config.retry_max_s, jitter=True)
        failures = 0  # rounds in a row that left the spool unsent
        while True:
            if not self._entries:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.config.retry_max_s)
                failures = 0
                continue
            try:
                flushed = await self._flush()
            except Exception:  # a bug here must not end re-sending for the component's life
                log.exception("outbox %s: re-sending failed", self.path)
                flushed = False
            if flushed:
                failures = 0
                continue
            failures += 1
            await asyncio.sleep(backoff.delay(failures))

    async def _flush(self) -> bool:
        """Send the spool oldest first; False at the first record that could not be sent."""
        sent = 0
        try:
            while self._entries:
                entry = self._entries[0]
                self._sending, self._evicted_while_sending = entry, False
                try:
                    await self._send(entry.kind, entry.body, retries=0, timeout=self.config.send_timeout_s)
                    outcome = "delivered_later"
                except DayuError as exc:
                    if not _rejected(exc):
                        if self._evicted_while_sending:
                            self._lose("discarded")
                        return False
                    log.error("the distributor refused a spooled record (%s): %s", entry.kind, exc)
                    outcome = "rejected"
                finally:
                    self._sending = None
                if outcome == "rejected":
                    self._lose("rejected")
                else:
                    self.counts["delivered_later"] += 1
                    if self._delivered is not None:
                        self._delivered.inc()
                if not self._evicted_while_sending and self._entries and self._entries[0] is entry:
                    self._entries.popleft()
                    self._bytes -= entry.size
                sent += 1
                if sent % 100 == 0:
                    self._rewrite()  # a crash now re-sends at most this many already delivered
            return True
        finally:
            if sent:
                self._rewrite()
                self._gauge()

    # -- the spool ----------------------------------------------------------------------------
    def _enforce_bounds(self) -> int:
        evicted = 0
        while self._entries and (len(self._entries) > self.config.max_records or self._bytes > self.config.max_bytes):
            old = self._entries.popleft()
            self._bytes -= old.size
            evicted += 1
            if old is self._sending:
                self._evicted_while_sending = True  # counted once its send is known to have failed
            else:
                self._lose("discarded")
        if evicted:
            log.error(
                "outbox %s full (%d records, %d bytes at most): discarded the %d oldest",
                self.path,
                self.config.max_records,
                self.config.max_bytes,
                evicted,
            )
        return evicted

    def _lose(self, why: Literal["discarded", "rejected"]) -> None:
        self.counts[why] += 1
        if self._discarded is not None:
            self._discarded.inc()

    def _load(self) -> None:
        try:
            lines = self.path.read_bytes().splitlines()
        except FileNotFoundError:
            return
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            entry = _parse(raw)
            if entry is None:
                self.counts["skipped_lines"] += 1
                log.warning("outbox %s: line %d is not a spooled record: skipped", self.path, number)
                continue
            self._entries.append(entry)
            self._bytes += entry.size
        self._enforce_bounds()
        self._rewrite()
        self._gauge()

    def _append(self, entry: _Entry) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(_line(entry.kind, entry.body))

    def _rewrite(self) -> None:
        """Replace the spool by what is pending (a new file, then a rename: a crash leaves one or the other)."""
        if not self._entries:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            out.writelines(_line(e.kind, e.body) for e in self._entries)
        os.replace(tmp, self.path)

    def _gauge(self) -> None:
        if self._pending is not None:
            self._pending.set(len(self._entries))

    # -- reporting ----------------------------------------------------------------------------
    @property
    def pending(self) -> int:
        return len(self._entries)

    @property
    def lost(self) -> int:
        """Records that will never reach the distributor: discarded from a full spool or refused by it."""
        return self.counts["discarded"] + self.counts["rejected"]

    def status(self) -> OutboxStatus:
        return OutboxStatus(
            pending=len(self._entries),
            pending_bytes=self._bytes,
            max_records=self.config.max_records,
            max_bytes=self.config.max_bytes,
            **self.counts,
        )


def _line(kind: str, body: str) -> str:
    return json.dumps({"kind": kind, "body": body}, separators=(",", ":")) + "\n"


def _parse(raw: bytes) -> _Entry | None:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("kind") not in KINDS or not isinstance(data.get("body"), str):
        return None
    kind: Kind = data["kind"]
    body: str = data["body"]
    try:
        json.loads(body)
    except ValueError:
        return None
    return _Entry(kind, body, len(_line(kind, body)))
