"""Ports the local runtime gives its workloads: from a range of its own, never one already given out.

Binding port 0 and closing the socket lets the kernel hand the same port out again at once: to the next
workload of the same install (a few per cent of 32-source installs failed that way) or to any process's
outgoing connection meanwhile. So the runtime takes ports from a range **below** the kernel's ephemeral
range (``/proc/sys/net/ipv4/ip_local_port_range``: the kernel picks outgoing and port-0 ports only from
there), and records every port it gives out in a machine-wide ledger (a JSON file under an ``flock``),
by owner (a run directory) and the process that reserved it. A candidate is given out only when no owner
holds it and binding it succeeds (nothing listens there now); a reservation ends with
:meth:`PortAllocator.release` (the runtime's ``stop``) or with the process that made it. A process outside
Dayu that binds a reserved port explicitly before the workload does is still possible; the runtime
detects that workload's failed start and asks :meth:`PortAllocator.replace` for another port, a bounded
number of times (``backend/local_runtime/runtime.py``).

``DAYU_PORT_RANGE=LOW-HIGH`` overrides the range.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from common.errors import ConfigError, Unavailable

DEFAULT_RANGE = (20000, 29999)
"""Used when the kernel's ephemeral range starts above it (Linux's default starts at 32768)."""
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
MIN_RANGE = 64
"""A range narrower than this cannot serve a large install: the default is used instead."""


def ephemeral_range(path: Path = EPHEMERAL_RANGE_FILE) -> tuple[int, int] | None:
    try:
        low, high = (int(x) for x in path.read_text().split()[:2])
    except (OSError, ValueError):
        return None
    return low, high


def runtime_range(env: str | None = None, ephemeral: tuple[int, int] | None = None) -> tuple[int, int]:
    """The range to allocate from: ``DAYU_PORT_RANGE`` when set, else the default clipped under the
    kernel's ephemeral range (the default itself when that range starts too low to leave room)."""
    text = os.environ.get("DAYU_PORT_RANGE") if env is None else env
    if text:
        try:
            low, high = (int(x) for x in text.split("-", 1))
        except ValueError:
            raise ConfigError(f"$DAYU_PORT_RANGE: expected LOW-HIGH (e.g. 20000-29999), got {text!r}") from None
        if not 1024 <= low <= high <= 65535:
            raise ConfigError(f"$DAYU_PORT_RANGE: {text!r} is not a range within 1024-65535")
        return low, high
    low, high = DEFAULT_RANGE
    eph = ephemeral if ephemeral is not None else ephemeral_range()
    if eph is not None and eph[0] > low:
        high = min(high, eph[0] - 1)
    return (low, high) if high - low + 1 >= MIN_RANGE else DEFAULT_RANGE


def bindable(host: str, port: int) -> bool:
    """Nothing is bound to ``port`` now. Without ``SO_REUSEADDR``, so a port still in TIME_WAIT is refused too."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def default_ledger() -> Path:
    return Path(tempfile.gettempdir()) / f"dayu-ports-{os.getuid()}.json"


class PortAllocator:
    """Ports for one owner (a run directory), unique across every owner on this machine."""

    def __init__(
        self,
        owner: str,
        *,
        host: str = "127.0.0.1",
        port_range: tuple[int, int] | None = None,
        ledger: Path | None = None,
        free: Callable[[str, int], bool] = bindable,
        pid: int | None = None,
    ) -> None:
        self.owner = owner
        self.host = host
        self.low, self.high = port_range or runtime_range()
        self.ledger = ledger or default_ledger()
        self._free = free
        self.pid = os.getpid() if pid is None else pid

    @property
    def size(self) -> int:
        return self.high - self.low + 1

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """The ledger, read under an exclusive lock and written back when the block ends."""
        self.ledger.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.ledger.with_suffix(".lock")
        with open(lock_path, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # held for a few bind checks at most
            try:
                state = self._read()
                yield state
                tmp = self.ledger.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(state))
                os.replace(tmp, self.ledger)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        try:
            state = json.loads(self.ledger.read_text())
        except (OSError, ValueError):
            state = {}
        ports = state.get("ports") if isinstance(state, dict) else None
        entries: dict[str, Any] = ports if isinstance(ports, dict) else {}
        # A reservation whose process is gone: its workloads hold their ports themselves, if they run.
        live = {p: e for p, e in entries.items() if isinstance(e, dict) and _alive(int(e.get("pid", 0)))}
        cursor = state.get("cursor") if isinstance(state, dict) else None
        return {"ports": live, "cursor": cursor if isinstance(cursor, int) else None}

    def _take(self, state: dict[str, Any], count: int, exclude: set[int]) -> list[int]:
        cursor = state["cursor"]
        if not isinstance(cursor, int) or not self.low <= cursor <= self.high:
            # Owners start at different places, so two installs rarely even look at the same ports.
            cursor = self.low + zlib.crc32(self.owner.encode()) % self.size
        taken: list[int] = []
        for step in range(self.size):
            if len(taken) == count:
                break
            port = self.low + (cursor - self.low + step) % self.size
            if str(port) in state["ports"] or port in exclude or not self._free(self.host, port):
                continue
            taken.append(port)
            state["ports"][str(port)] = {"owner": self.owner, "pid": self.pid}
        else:
            step = self.size
        if len(taken) < count:
            for port in taken:
                del state["ports"][str(port)]
            raise Unavailable(
                f"only {len(taken)} of the {count} ports asked for are free in {self.low}-{self.high} "
                "(set DAYU_PORT_RANGE to a wider range)",
                detail={"range": [self.low, self.high]},
            )
        # The next allocation goes on after these: a port just released may still be in TIME_WAIT.
        state["cursor"] = self.low + (cursor - self.low + step) % self.size
        return taken

    def allocate(self, count: int, *, exclude: Iterable[int] = ()) -> list[int]:
        """``count`` distinct ports nobody holds, reserved for this owner; ``exclude``: never these."""
        if count <= 0:
            return []
        with self._locked() as state:
            return self._take(state, count, set(exclude))

    def replace(self, port: int, *, exclude: Iterable[int] = ()) -> int:
        """Another port for a workload whose ``port`` was taken by a process outside Dayu. The old one stays
        reserved until :meth:`release`, so it is not handed out again meanwhile."""
        with self._locked() as state:
            return self._take(state, 1, {port, *exclude})[0]

    def keep(self, ports: Iterable[int]) -> None:
        """This owner's reservation becomes exactly ``ports`` (workloads kept across an ``apply``)."""
        wanted = {str(p) for p in ports}
        with self._locked() as state:
            for port, entry in list(state["ports"].items()):
                if entry.get("owner") == self.owner and port not in wanted:
                    del state["ports"][port]
            for port in wanted:
                state["ports"][port] = {"owner": self.owner, "pid": self.pid}

    def release(self) -> None:
        """Every port of this owner is free to give out again."""
        with self._locked() as state:
            for port, entry in list(state["ports"].items()):
                if entry.get("owner") == self.owner:
                    del state["ports"][port]

    def reserved(self) -> dict[int, str]:
        """Port -> owner, every owner's (for status and tests)."""
        with self._locked() as state:
            return {int(p): str(e.get("owner")) for p, e in state["ports"].items()}
