"""What ``dayu.sh`` runs: bring the control plane (backend + datasource) up or down on this machine.

Local runtime: both run in the background, each in its own process group, with pid files (pid and
start time, so a reused pid is never signalled) and logs under the run directory. Starting twice
finds the running ones; stopping when nothing runs does nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

from backend.templates import Template, load_template
from common.errors import DayuError
from common.private import private_dir, write_private

HEALTH_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
UNINSTALL_TIMEOUT_S = 120.0


def ensure_token(dayu_dir: Path, name: str = "token") -> str:
    path = dayu_dir / name
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    private_dir(dayu_dir)
    token = secrets.token_urlsafe(24)
    write_private(path, token + "\n")
    return token


def _pid_file(run_dir: Path, name: str) -> Path:
    return run_dir / "pids" / f"{name}.json"


def running(run_dir: Path, name: str) -> psutil.Process | None:
    path = _pid_file(run_dir, name)
    try:
        record = json.loads(path.read_text())
        proc = psutil.Process(int(record["pid"]))
        if abs(proc.create_time() - float(record["create_time"])) > 1.0 or proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (OSError, ValueError, KeyError, psutil.Error):
        return None


def spawn(run_dir: Path, name: str, module: str, env: dict[str, str], cwd: Path) -> psutil.Process:
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{name}.log", "ab") as log:
        popen = subprocess.Popen(
            [sys.executable, "-m", module],
            env={**os.environ, **env},
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop ends it and its children only
        )
    proc = psutil.Process(popen.pid)
    path = _pid_file(run_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": popen.pid, "pgid": popen.pid, "create_time": proc.create_time()}))
    return proc


def terminate(run_dir: Path, name: str) -> bool:
    proc = running(run_dir, name)
    if proc is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except psutil.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(psutil.Error):
                proc.wait(STOP_TIMEOUT_S)
    _pid_file(run_dir, name).unlink(missing_ok=True)
    return proc is not None


def wait_healthy(url: str, proc: psutil.Process, log: Path, timeout: float = HEALTH_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE:
            tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
            raise SystemExit(f"dayu: {url} exited while starting; last log lines:\n{tail}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"dayu: {url} not healthy after {timeout:.0f}s (log: {log})")


def start_local(template: Template, template_dir: Path, root: Path) -> None:
    dayu_dir = root / ".dayu"
    run_dir = (root / template.base.local.run_dir).resolve()
    token = ensure_token(dayu_dir)
    ds, be = template.base.datasource, template.base.backend
    ds_url, be_url = f"http://{ds.host}:{ds.port}", f"http://{be.host}:{be.port}"
    ds_root = (root / ds.root).resolve()
    import importlib.util

    has_datasource = importlib.util.find_spec("datasource.__main__") is not None
    if not has_datasource:
        print("dayu: no datasource service in this checkout; sources must be files or real streams", file=sys.stderr)
    if has_datasource and running(run_dir, "datasource") is None:
        try:
            from datasource.synthetic import ensure_default_dataset

            ensure_default_dataset(ds_root)
        except ImportError as exc:
            print(f"dayu: the default dataset cannot be prepared: {exc}", file=sys.stderr)
        env = {"DAYU_HOST": ds.host, "DAYU_PORT": str(ds.port), "DAYU_TOKEN": token, "DAYU_ROOT": str(ds_root)}
        env["DAYU_DATASOURCE_ROOT"] = str(ds_root)
        proc = spawn(run_dir, "datasource", "datasource", env, root)
        wait_healthy(ds_url, proc, run_dir / "logs" / "datasource.log")
    if running(run_dir, "backend") is None:
        env = {
            "DAYU_HOST": be.host,
            "DAYU_PORT": str(be.port),
            "DAYU_TOKEN": token,
            "DAYU_TEMPLATE": str(template_dir),
            "DAYU_STATE_DIR": str(dayu_dir / "backend"),
            "DAYU_RUN_DIR": str(run_dir),
            "DAYU_DEPLOYER": "local",
        }
        if has_datasource:
            env["DAYU_DATASOURCE_URL"] = ds_url
        proc = spawn(run_dir, "backend", "backend", env, root)
        wait_healthy(be_url, proc, run_dir / "logs" / "backend.log")
    (run_dir / "backend.url").write_text(be_url + "\n")
    print(f"Dayu is up.\n  URL:   {be_url}\n  docs:  {be_url}/docs\n  token: {token}\n  logs:  {run_dir / 'logs'}")
    print("Try: .venv/bin/dayuctl quickstart")


def stop_local(template: Template, root: Path) -> list[str]:
    """Bring the local control plane down and sweep what its run directory still names; returns the steps
    that failed, each as one line (also printed).

    The steps run one after another, each bounded in time; one that fails, whatever the error, is
    reported and the next still runs, so a broken step never leaves the rest running:

    1. uninstall through the backend's API (its workloads stop as an uninstall stops them);
    2. the backend's and 3. the datasource's process groups (SIGTERM, SIGKILL after ``STOP_TIMEOUT_S``);
    4. the local runtime under the run directory, through its pid files;
    5. every process group a pid file under the run directory still names, in case step 4 failed;
    6. the backend's URL file.
    """
    run_dir = (root / template.base.local.run_dir).resolve()
    stopped: list[str] = []
    steps: list[tuple[str, Callable[[], None]]] = [
        ("uninstall", lambda: _uninstall(template, root, run_dir)),
        *[(name, lambda name=name: _terminate_step(run_dir, name, stopped)) for name in ("backend", "datasource")],
        ("local runtime", lambda: _stop_runtime(run_dir / "runtime")),
        ("leftover process groups", lambda: _stop_recorded_groups(run_dir)),
        ("backend URL file", lambda: (run_dir / "backend.url").unlink(missing_ok=True)),
    ]
    problems = []
    for name, step in steps:
        try:
            step()
        except Exception as exc:  # any error: reported, and the next step still runs
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
            print(f"dayu: stop: {problems[-1]}", file=sys.stderr)
    print(f"Dayu is down{' (stopped ' + ', '.join(stopped) + ')' if stopped else ' (nothing was running)'}.")
    return problems


def _uninstall(template: Template, root: Path, run_dir: Path) -> None:
    token_path = root / ".dayu" / "token"
    be = template.base.backend
    if running(run_dir, "backend") is None or not token_path.is_file():
        return
    headers = {"Authorization": f"Bearer {token_path.read_text().strip()}"}
    try:
        httpx.post(
            f"http://{be.host}:{be.port}/api/uninstall", headers=headers, timeout=UNINSTALL_TIMEOUT_S, trust_env=False
        )
    except httpx.HTTPError as exc:
        print(f"dayu: graceful uninstall failed ({exc}); stopping processes", file=sys.stderr)


def _terminate_step(run_dir: Path, name: str, stopped: list[str]) -> None:
    if terminate(run_dir, name):
        stopped.append(name)


def _stop_runtime(runtime_dir: Path) -> None:
    if not runtime_dir.exists():
        return
    from backend.local_runtime.runtime import LocalRuntime

    LocalRuntime(runtime_dir).stop(timeout=STOP_TIMEOUT_S)


def _stop_recorded_groups(run_dir: Path) -> None:
    """SIGTERM (and SIGCONT), then SIGKILL after ``STOP_TIMEOUT_S``, to every process group a pid file under
    ``run_dir`` records: while its leader is the recorded process (same start time: a reused pid is never
    signalled), or once its leader is gone (a group id is not given out again while the group has members)."""
    groups = set()
    for path in run_dir.rglob("*.json") if run_dir.is_dir() else []:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            record = json.loads(path.read_text())
            pgid, created = int(record["pgid"]), float(record["create_time"])
            try:
                if abs(psutil.Process(pgid).create_time() - created) <= 1.0:
                    groups.add(pgid)
            except psutil.NoSuchProcess:
                groups.add(pgid)
            except psutil.Error:
                pass
    for sigs in ((signal.SIGTERM, signal.SIGCONT), (signal.SIGKILL,)):
        left = [g for g in groups if _members(g)]
        for pgid in left:
            for sig in sigs:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, sig)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = [g for g in left if _members(g)]
        if not left:
            return
    raise DayuError(f"process group(s) {sorted(left)} still running after SIGKILL")


def _members(pgid: int) -> list[psutil.Process]:
    """The live (not zombie) processes of group ``pgid``."""
    out = []
    for proc in psutil.process_iter(["status"]):
        with contextlib.suppress(OSError):
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.pid) == pgid:
                out.append(proc)
    return out


def start_cluster(template: Template, root: Path) -> None:
    from backend.deploy import cluster
    from backend.deploy.kube_api import ClusterApi

    token = ensure_token(root / ".dayu")
    # The components' token stays the same across starts, as their pods keep the one they started with.
    component_token = ensure_token(root / ".dayu", "component-token")
    api = ClusterApi(template.base.kubernetes.kubeconfig)
    url = cluster.start(api, template, token, component_token=component_token)
    run_dir = root / template.base.local.run_dir
    private_dir(run_dir)
    (run_dir / "backend.url").write_text(url + "\n")
    print(f"Dayu is up on the cluster (namespace {template.base.namespace}).\n  URL:   {url}\n  token: {token}")


def stop_cluster(template: Template, root: Path) -> None:
    from backend.deploy import cluster
    from backend.deploy.kube_api import ClusterApi

    url_file = root / template.base.local.run_dir / "backend.url"
    token_file = root / ".dayu" / "token"
    if url_file.is_file() and token_file.is_file():
        headers = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
        try:
            httpx.post(f"{url_file.read_text().strip()}/api/uninstall", headers=headers, timeout=120, trust_env=False)
        except httpx.HTTPError as exc:
            print(f"dayu: graceful uninstall failed ({exc}); deleting the namespace", file=sys.stderr)
    cluster.stop(ClusterApi(template.base.kubernetes.kubeconfig), template)
    url_file.unlink(missing_ok=True)
    print("Dayu is down.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dayu.sh")
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--template", default="template")
    parser.add_argument("--root", default=".")
    args = parser.parse_args(argv)
    root = Path(args.root).resolve()
    template_dir = Path(args.template).resolve()
    try:
        template = load_template(template_dir)
    except DayuError as exc:
        print(f"dayu: {exc.message}", file=sys.stderr)
        return 2
    if template.base.runtime == "kubernetes":
        try:
            (start_cluster if args.action == "start" else stop_cluster)(template, root)
        except DayuError as exc:
            print(f"dayu: {exc.message}", file=sys.stderr)
            return 1
        return 0
    if args.action == "start":
        start_local(template, template_dir, root)
        return 0
    return 1 if stop_local(template, root) else 0


if __name__ == "__main__":
    sys.exit(main())
