"""The checks of ``make image-smoke`` once the compose stack is up (run by hack/image-smoke.sh).

Waits for the backend, checks that it serves the dashboard (its index page and a JavaScript asset, the same
bytes as the host-built ``frontend/dist``), installs the default DAG on the default datasource and opens it
(``dayuctl quickstart``, a compose-mode install), waits for a result from every source, waits until every
container of the project is healthy (never restarted) and checks it runs as the non-root user, and writes the
figures to a file.

Docker reports a container healthy only after a probe passed, and probes run one ``interval`` apart from
the container's start: the generators start last (after everything they depend on is healthy) and results
can arrive before their first probe, so health is awaited (bounded), not sampled once.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

DOCKER = "/usr/bin/docker"
COMPONENT_UID = "10001"
HEALTH_SETTLE_S = 120.0
"""How long every container may take to report healthy once results flow: several probe intervals (5 s in
docker-compose.yml) plus probes slowed by a busy host. A container that is never healthy fails the run."""
SCRIPT_SRC = re.compile(r'<script[^>]*\bsrc="(/assets/[^"]+\.js)"')


def wait_backend(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit(f"smoke: the backend at {url} did not answer /health in time")


def first_results(url: str, token: str, sources: list[str], deadline: float) -> dict[str, float]:
    """Seconds (wall clock) at which each source's first result arrived."""
    headers = {"Authorization": f"Bearer {token}"}
    seen: dict[str, float] = {}
    while len(seen) < len(sources):
        if time.monotonic() > deadline:
            raise SystemExit(f"smoke: no result in time from {sorted(set(sources) - set(seen))}")
        for source in sources:
            if source in seen:
                continue
            try:  # a busy host may answer slowly: keep asking until the deadline
                answer = httpx.get(
                    f"{url}/api/results/{source}", params={"tail": 50}, headers=headers, timeout=30, trust_env=False
                )
            except httpx.HTTPError as exc:
                print(f"smoke: results of {source}: {exc!r}; asking again", file=sys.stderr)
                continue
            records = answer.json().get("records", []) if answer.status_code == 200 else []
            if any(r.get("kind") == "result" for r in records):
                seen[source] = time.time()
        time.sleep(2)
    return seen


def docker(*args: str) -> str:
    run = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=60, check=False)
    if run.returncode != 0:
        raise SystemExit(f"smoke: docker {' '.join(args)} failed: {run.stderr.strip()}")
    return run.stdout


def container_states(project: str) -> dict[str, dict[str, Any]]:
    """Each container of the project: its ``State`` and its ``RestartCount``."""
    names = docker("ps", "-a", "--filter", f"label=com.docker.compose.project={project}", "--format", "{{.Names}}")
    containers = sorted(names.split())
    if not containers:
        raise SystemExit(f"smoke: no container of project {project}")
    found = json.loads(docker("inspect", *containers))
    return {c["Name"].lstrip("/"): {**c["State"], "RestartCount": c["RestartCount"]} for c in found}


def health_of(state: dict[str, Any]) -> str | None:
    health = state.get("Health")
    return str(health.get("Status")) if isinstance(health, dict) else None


def wait_healthy(project: str, settle_s: float) -> tuple[list[str], float]:
    """Every container of the project running, never restarted and healthy: their names and when (wall
    clock) the last became healthy. Fails at once on an unhealthy, stopped or restarted one."""
    deadline = time.monotonic() + settle_s
    while True:
        states = container_states(project)
        broken = [
            f"{name}: {s.get('Status')}, health {health_of(s)}, restarts {s['RestartCount']}"
            for name, s in states.items()
            if s.get("Status") != "running" or health_of(s) == "unhealthy" or s["RestartCount"] != 0
        ]
        if broken:
            raise SystemExit("smoke: " + "; ".join(broken))
        starting = [name for name, s in states.items() if health_of(s) != "healthy"]
        if not starting:
            return sorted(states), time.time()
        if time.monotonic() > deadline:
            raise SystemExit(f"smoke: not healthy {settle_s:.0f} s after the results: {', '.join(starting)}")
        time.sleep(1)


def still_starting(project: str) -> list[str]:
    return [name for name, s in container_states(project).items() if health_of(s) != "healthy"]


def check_users(containers: list[str]) -> None:
    problems = []
    for name in containers:
        uid = docker("exec", name, "id", "-u").strip()
        if uid != COMPONENT_UID:
            problems.append(f"{name}: runs as uid {uid}, not {COMPONENT_UID}")
    if problems:
        raise SystemExit("smoke: " + "; ".join(problems))


def check_dashboard(url: str, dist: Path | None) -> str:
    """The backend serves the dashboard at / and the script its index page names; with ``dist``, the very files
    of that directory (the host build the image took). A line for the figures."""
    index = httpx.get(f"{url}/", timeout=30, trust_env=False)
    if index.status_code != 200 or not index.headers.get("content-type", "").startswith("text/html"):
        kind = index.headers.get("content-type")
        raise SystemExit(f"smoke: GET / answered {index.status_code} {kind}: {index.text[:300]}")
    if dist is not None and index.content != (dist / "index.html").read_bytes():
        raise SystemExit(f"smoke: the backend's / is not {dist}/index.html:\n{index.text[:500]}")
    scripts = SCRIPT_SRC.findall(index.text)
    if not scripts:
        raise SystemExit(f"smoke: the dashboard's index page names no script:\n{index.text[:500]}")
    asset = httpx.get(f"{url}{scripts[0]}", timeout=30, trust_env=False)
    kind = asset.headers.get("content-type", "")
    if asset.status_code != 200 or "javascript" not in kind or not asset.content:
        raise SystemExit(f"smoke: GET {scripts[0]} answered {asset.status_code} {kind}, {len(asset.content)} bytes")
    if dist is not None and asset.content != (dist / scripts[0].lstrip("/")).read_bytes():
        raise SystemExit(f"smoke: {scripts[0]} served by the backend differs from {dist}{scripts[0]}")
    origin = f", as built in {dist}" if dist is not None else " (built in the image)"
    return f"dashboard served by the backend: / and {scripts[0]} ({len(asset.content)} bytes){origin}"


def main() -> int:
    parser = argparse.ArgumentParser(prog="hack/smoke_check.py")
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--started", type=float, required=True, help="wall clock when `compose up` began")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--figures", type=Path, required=True)
    parser.add_argument("--sources", default="cam0,cam1")
    parser.add_argument("--dashboard", type=Path, help="the host's frontend/dist the backend image took, if it did")
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    wait_backend(args.url, deadline)
    backend_up = time.time()
    dashboard = check_dashboard(args.url, args.dashboard)
    dayuctl = Path(sys.executable).with_name("dayuctl")
    quick = subprocess.run(
        [str(dayuctl), "--url", args.url, "--token", args.token, "quickstart", "--timeout", str(args.timeout)],
        capture_output=True,
        text=True,
        timeout=args.timeout + 60,
        check=False,
    )
    if quick.returncode != 0:
        raise SystemExit(f"smoke: dayuctl quickstart failed:\n{quick.stdout}\n{quick.stderr}")
    opened = time.time()
    first = first_results(args.url, args.token, args.sources.split(","), deadline)
    starting = still_starting(args.project)
    containers, all_healthy = wait_healthy(args.project, HEALTH_SETTLE_S)
    check_users(containers)
    lines = [
        "== compose stack",
        f"containers healthy, uid {COMPONENT_UID}: {len(containers)} ({', '.join(containers)})",
        dashboard,
        f"compose up -> backend healthy: {backend_up - args.started:.0f} s",
        f"compose up -> installed and opened: {opened - args.started:.0f} s",
        *(
            f"first result of {s}: {t - args.started:.0f} s after compose up, {t - opened:.1f} s after open"
            for s, t in sorted(first.items())
        ),
        f"still starting (health) when the last first result came: {', '.join(starting) or 'none'}",
        f"compose up -> every container healthy: {all_healthy - args.started:.0f} s",
    ]
    args.figures.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
