"""dayu.sh with the local runtime: real processes in the background, found again by dayuctl, stopped cleanly.

Runs on a copy of the default template with free ports and DAYU_HOME in a temporary directory, so it
never touches the repository's own .dayu/.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import yaml

from tests import leftovers, loopback
from tests.servers import free_port

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[1]


def run_dayu(action: str, template: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ACTION": action, "TEMPLATE": str(template), "DAYU_HOME": str(home)}
    return subprocess.run(
        ["bash", str(REPO / "dayu.sh")], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_start_twice_stop_twice_leaves_nothing(tmp_path: Path) -> None:
    template = tmp_path / "template"
    shutil.copytree(REPO / "template", template)
    base = yaml.safe_load((template / "base.yaml").read_text())
    backend_port, ds_port = free_port(), free_port()
    base["backend"]["port"], base["datasource"]["port"] = backend_port, ds_port
    (template / "base.yaml").write_text(yaml.safe_dump(base))
    home = tmp_path / "home"

    first = run_dayu("start", template, home)
    assert first.returncode == 0, first.stderr
    token = (home / ".dayu" / "token").read_text().strip()
    assert f"http://127.0.0.1:{backend_port}" in first.stdout and token in first.stdout
    pid_files = list((home / ".dayu" / "run" / "pids").glob("*.json"))
    assert pid_files
    assert loopback.get(f"http://127.0.0.1:{backend_port}/api/dags", timeout=5).status_code == 401
    authed = loopback.get(
        f"http://127.0.0.1:{backend_port}/api/dags", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert authed.status_code == 200 and authed.json()

    second = run_dayu("start", template, home)  # harmless: finds the running ones
    assert second.returncode == 0, second.stderr
    assert (home / ".dayu" / "token").read_text().strip() == token

    # dayuctl finds the backend and the token by itself from inside DAYU_HOME
    cli = subprocess.run(
        [sys.executable, "-m", "backend.cli", "--json", "policies"],
        cwd=home, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert "fixed" in cli.stdout

    import json

    pids = [json.loads(p.read_text())["pid"] for p in pid_files]
    stop = run_dayu("stop", template, home)
    assert stop.returncode == 0, stop.stderr
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert port_free(backend_port) and port_free(ds_port)
    assert not list((home / ".dayu" / "run" / "pids").glob("*.json"))
    again = run_dayu("stop", template, home)
    assert again.returncode == 0 and "nothing was running" in again.stdout


def test_stop_during_an_install_leaves_nothing_running(tmp_path: Path) -> None:
    """``ACTION=stop`` while the install waits in stage 1 (its distributor held by SIGSTOP, so it cannot
    finish first): the backend, the datasource and every component the install had started are gone, and
    none of their ports listens."""
    template = tmp_path / "template"
    shutil.copytree(REPO / "template", template)
    base = yaml.safe_load((template / "base.yaml").read_text())
    backend_port, ds_port = free_port(), free_port()
    base["backend"]["port"], base["datasource"]["port"] = backend_port, ds_port
    (template / "base.yaml").write_text(yaml.safe_dump(base))
    home = tmp_path / "home"
    run = home / ".dayu" / "run"
    stopped = False
    try:
        started = run_dayu("start", template, home)
        assert started.returncode == 0, started.stderr
        token = (home / ".dayu" / "token").read_text().strip()
        install = loopback.post(
            f"http://127.0.0.1:{backend_port}/api/install",
            json={"datasource": "synthetic", "dag": "face-detection", "policy": "fixed"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert install.status_code == 202, install.text
        frozen = leftovers.freeze(run / "runtime", "distributor")
        running = {p.pid for p in leftovers.processes_of(run)}
        assert frozen["pid"] in running, (frozen, running)
        ports = leftovers.recorded_ports(run) | {backend_port, ds_port}
        stop = run_dayu("stop", template, home)
        stopped = True
        assert stop.returncode == 0, stop.stderr
        left = leftovers.describe(leftovers.processes_of(run))  # before the cleanup below ends them
        still_listening = leftovers.listening(ports)
    finally:  # whatever failed above, nothing of this run stays behind
        if not stopped:
            with contextlib.suppress(subprocess.TimeoutExpired):
                run_dayu("stop", template, home)
        leftovers.kill(leftovers.processes_of(run))
    assert not left, left
    assert not still_listening


def test_bad_action_and_missing_template_are_refused(tmp_path: Path) -> None:
    assert run_dayu("restart", REPO / "template", tmp_path).returncode == 2
    missing = run_dayu("start", tmp_path / "nowhere", tmp_path)
    assert missing.returncode == 2 and "base.yaml not found" in missing.stderr
