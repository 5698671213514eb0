"""Processes of the local runtime: each in its own process group, recorded in a pid file.

A pid file records the process's start time as well, so a pid reused by an unrelated process after a
reboot or a crash is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil


@dataclass
class ProcessRecord:
    name: str
    pid: int
    pgid: int
    create_time: float
    port: int | None
    node: str
    component: str
    log: str
    restarts: int = 0

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self)))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: Path) -> ProcessRecord | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def process(self) -> psutil.Process | None:
        """The live process this record names, or None (gone, a zombie, or the pid was reused)."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > 1.0 or proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None

    def alive(self) -> bool:
        return self.process() is not None


def spawn(
    name: str,
    command: list[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    port: int | None,
    node: str,
    component: str,
) -> tuple[subprocess.Popen[bytes], ProcessRecord]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            command,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stopped as a whole, never by name
        )
    try:
        created = psutil.Process(proc.pid).create_time()
    except psutil.NoSuchProcess:
        created = time.time()
    record = ProcessRecord(
        name=name,
        pid=proc.pid,
        pgid=proc.pid,
        create_time=created,
        port=port,
        node=node,
        component=component,
        log=str(log_path),
    )
    return proc, record


def launched_with(name: str, config: str, since: float) -> list[ProcessRecord]:
    """Live processes started at ``since`` or later with ``DAYU_CONFIG`` set to exactly ``config`` (a path
    only the launch of ``name`` in one run directory uses), as records to stop them by (their own group)."""
    if not config:
        return []
    out: list[ProcessRecord] = []
    for proc in psutil.process_iter(["create_time", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE or (proc.info["create_time"] or 0.0) < since - 1.0:
            continue
        with contextlib.suppress(psutil.Error, OSError):
            if proc.environ().get("DAYU_CONFIG") == config:
                out.append(
                    ProcessRecord(
                        name=name,
                        pid=proc.pid,
                        pgid=os.getpgid(proc.pid),
                        create_time=proc.info["create_time"],
                        port=None,
                        node="",
                        component="",
                        log="",
                    )
                )
    return out


def _signal_group(record: ProcessRecord, sig: signal.Signals) -> None:
    if record.process() is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(record.pgid, sig)


def stop_all(
    records: Iterable[ProcessRecord],
    *,
    timeout: float,
    children: Mapping[int, subprocess.Popen[bytes]] | None = None,
) -> dict[str, str]:
    """SIGTERM (and SIGCONT) every group, wait up to ``timeout`` s, then SIGKILL what is left. Returns name ->
    outcome."""
    records = list(records)
    outcome: dict[str, str] = {}
    for record in records:
        if record.alive():
            _signal_group(record, signal.SIGTERM)
            # A stopped process (SIGSTOP, a debugger, a frozen cgroup) acts on SIGTERM only once continued;
            # without this it would sit out the whole timeout and be killed without its shutdown.
            _signal_group(record, signal.SIGCONT)
            outcome[record.name] = "terminated"
        else:
            outcome[record.name] = "not running"
    deadline = time.monotonic() + timeout
    own = children or {}
    while time.monotonic() < deadline:
        for record in records:
            proc = own.get(record.pid)
            if proc is not None:
                proc.poll()  # reap our own children so they do not linger as zombies
        if not any(r.alive() for r in records):
            break
        time.sleep(0.05)
    for record in records:
        if record.alive():
            _signal_group(record, signal.SIGKILL)
            outcome[record.name] = "killed"
    for record in records:
        proc = own.get(record.pid)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2.0)
        _wait_group_gone(record.pgid, 2.0)
    return outcome


def _wait_group_gone(pgid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        members = [p for p in psutil.process_iter(["status"]) if _pgid(p) == pgid]
        if all(p.info["status"] == psutil.STATUS_ZOMBIE for p in members):
            return
        time.sleep(0.05)


def _pgid(proc: psutil.Process) -> int | None:
    try:
        return os.getpgid(proc.pid)
    except (ProcessLookupError, PermissionError):
        return None


def log_tail(path: str | Path, lines: int = 20) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
