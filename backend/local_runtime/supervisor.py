"""Supervision of the local runtime's components, as a kubelet does for its pods.

A thread looks at every component about twice a second: it reaps the ones that exited (they would stay
zombies of the supervising process otherwise) and starts them again on the same port, after a delay
that doubles with each crash in a row (bounded by ``max_backoff_s``) and resets once a component has
stayed up for ``stable_s``. Each restart is counted in the component's pid file, so ``status`` shows it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from backend.local_runtime.processes import ProcessRecord
from common.backoff import Backoff

log = logging.getLogger(__name__)


@dataclass
class _Watch:
    crashes: int = 0
    down_since: float | None = None
    restart_at: float | None = None
    up_since: float | None = None


class Supervisor:
    """Restarts what died. ``records`` lists the components (from their pid files), ``reap`` collects every
    exited child, ``restart`` starts one again (under the runtime's lock, which also guards stop/apply)."""

    def __init__(
        self,
        records: Callable[[], list[ProcessRecord]],
        reap: Callable[[], None],
        restart: Callable[[ProcessRecord], bool],
        lock: threading.RLock,
        *,
        interval_s: float = 0.5,
        backoff: Backoff | None = None,
        stable_s: float = 30.0,
    ) -> None:
        self.records = records
        self.reap = reap
        self.restart = restart
        self.lock = lock
        self.interval_s = interval_s
        self.backoff = backoff or Backoff(base_s=0.5, max_s=30.0)
        self.stable_s = stable_s
        self._watch: dict[str, _Watch] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="dayu-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self._thread = None

    def down(self) -> dict[str, float]:
        """Components down now, with the wall-clock time they were found down."""
        return {name: w.down_since for name, w in self._watch.items() if w.down_since is not None}

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check_once()
            except Exception:  # a failed round must not end supervision
                log.exception("supervision round failed")

    def check_once(self, now: float | None = None) -> list[str]:
        """One round; returns the names restarted."""
        restarted: list[str] = []
        with self.lock:
            self.reap()  # also children another process stopped: nobody else can collect them
            records = self.records()
            names = {r.name for r in records}
            for gone in set(self._watch) - names:
                del self._watch[gone]  # stopped on purpose: its pid file went with it
            for record in records:
                if self._check(record, time.time() if now is None else now):
                    restarted.append(record.name)
        return restarted

    def _check(self, record: ProcessRecord, now: float) -> bool:
        watch = self._watch.setdefault(record.name, _Watch())
        if record.alive():
            watch.down_since = watch.restart_at = None
            if watch.up_since is None:
                watch.up_since = now
            elif watch.crashes and now - watch.up_since >= self.stable_s:
                watch.crashes = 0
            return False
        if watch.restart_at is None:
            watch.crashes += 1
            watch.down_since = watch.down_since or now
            watch.up_since = None
            watch.restart_at = now + self.backoff.delay(watch.crashes)
            log.warning("%s exited; restart %d in %.1fs", record.name, watch.crashes, watch.restart_at - now)
        if now < watch.restart_at:
            return False
        watch.restart_at = None
        if not self.restart(record):
            return False
        watch.up_since = None
        return True
