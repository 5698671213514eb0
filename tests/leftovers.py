"""What a run directory started and left running, found from outside: its processes and the ports they held.

A process belongs to a run directory when

- its process group is one a pid file under the directory records (the local runtime, the launcher of
  ``dayu.sh`` and the link helpers start each process as the leader of its own group, so whatever it
  forks is in that group too), and it is not older than the record; a group whose leader's pid now names a
  process started at another time is someone else's (pids are reused, ``pid_max`` may be 32768); or
- its environment names the directory or a path under it (``DAYU_CONFIG``, ``DAYU_TOPOLOGY``,
  ``DAYU_RUN_DIR``): a component whose launcher died before writing its pid file, a backend given that run
  directory.

Every process on the machine is looked at (``/proc`` through psutil); zombies are not running anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import psutil

RUN_ENV = ("DAYU_CONFIG", "DAYU_TOPOLOGY", "DAYU_RUN_DIR")
"""Variables whose value lies under the run directory in every process it started."""


def pid_records(run_dir: Path) -> list[dict[str, Any]]:
    """Every pid file under ``run_dir``: JSON objects with an integer ``pid`` and ``pgid`` and a ``create_time``."""
    out = []
    for path in sorted(Path(run_dir).rglob("*.json")):
        with contextlib.suppress(OSError, ValueError):
            raw = json.loads(path.read_text())
            if (
                isinstance(raw, dict)
                and isinstance(raw.get("pid"), int)
                and isinstance(raw.get("pgid"), int)
                and isinstance(raw.get("create_time"), int | float)
            ):
                out.append(raw)
    return out


def processes_of(run_dir: Path) -> list[psutil.Process]:
    """The live processes ``run_dir`` started (see the module docstring); never the caller itself."""
    run = Path(run_dir).resolve()
    names = {str(run), str(Path(run_dir).absolute())}  # as given to the processes, or with links resolved
    groups: dict[int, float] = {}
    for record in pid_records(run):
        pgid, created = int(record["pgid"]), float(record["create_time"])
        if not _group_is_still(pgid, created):
            continue
        groups[pgid] = min(created, groups.get(pgid, created))
    out = []
    for proc in psutil.process_iter(["status", "create_time"]):
        if proc.pid == os.getpid() or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            pgid = os.getpgid(proc.pid)
        except OSError:
            continue
        since = groups.get(pgid)
        if since is not None and (proc.info["create_time"] or 0.0) >= since - 1.0:
            out.append(proc)
            continue
        with contextlib.suppress(psutil.Error, OSError):
            env = proc.environ()
            if any(_under(env.get(var, ""), names) for var in RUN_ENV):
                out.append(proc)
    return out


def _under(value: str, dirs: set[str]) -> bool:
    return any(value == d or value.startswith(d + os.sep) for d in dirs)


def _group_is_still(pgid: int, created: float) -> bool:
    """Whether group ``pgid``, whose leader (pid ``pgid``) started at ``created``, can still be that group: not
    when a process of that pid started at another time runs now (the pid was reused, and a group of that id
    now is someone else's)."""
    try:
        return abs(psutil.Process(pgid).create_time() - created) <= 1.0
    except psutil.NoSuchProcess:
        return True  # the leader is gone; what is left of its group is still the run's
    except psutil.Error:
        return False


def describe(procs: list[psutil.Process]) -> list[str]:
    """``pid: command line`` of each, for a failure message."""
    out = []
    for proc in procs:
        try:
            out.append(f"{proc.pid}: {' '.join(proc.cmdline())[:200]}")
        except psutil.Error:
            out.append(f"{proc.pid}: (gone)")
    return out


def kill(procs: list[psutil.Process]) -> None:
    """SIGKILL each (by pid, checked to be the same process) and reap our own children among them."""
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGKILL)  # psutil refuses a pid reused since it was listed
    psutil.wait_procs(procs, timeout=10)


def recorded_ports(run_dir: Path) -> set[int]:
    """The ports the run's pid files and topology files give its components."""
    ports = {int(r["port"]) for r in pid_records(run_dir) if isinstance(r.get("port"), int)}
    for path in Path(run_dir).rglob("topology.json"):
        with contextlib.suppress(OSError, ValueError):
            nodes = json.loads(path.read_text()).get("nodes", {})
            for node in nodes.values():
                for endpoint in [*node.get("components", {}).values(), *node.get("processors", {}).values()]:
                    if isinstance(endpoint.get("port"), int):
                        ports.add(int(endpoint["port"]))
    return ports


def listening(ports: set[int], host: str = "127.0.0.1") -> list[int]:
    """The ports among ``ports`` something accepts connections on now."""
    out = []
    for port in sorted(ports):
        with socket.socket() as s:
            s.settimeout(2.0)
            if s.connect_ex((host, port)) == 0:
                out.append(port)
    return out


def freeze(runtime_dir: Path, name: str, *, timeout: float = 120.0) -> dict[str, Any]:
    """SIGSTOP the process group of the local runtime's workload ``name`` as soon as its pid file appears, and
    return its pid record: it can no longer answer ``/health``, so an install waits in that stage for as long
    as a test needs, however fast or loaded the machine is (it resumes on SIGCONT; ``stop`` sends one)."""
    path = Path(runtime_dir) / "pids" / f"{name}.json"
    deadline = time.monotonic() + timeout
    while True:
        try:
            record: dict[str, Any] = json.loads(path.read_text())  # written whole (renamed into place)
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} was not launched within {timeout:g}s") from None
            time.sleep(0.01)
            continue
        os.killpg(int(record["pgid"]), signal.SIGSTOP)
        return record
