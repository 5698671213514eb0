"""The checks of ``make image-smoke`` once the compose stack is up (run by hack/image-smoke.sh).

Waits for the backend, installs the default DAG on the default datasource and opens it (``dayuctl
quickstart``, a compose-mode install), waits for a result from every source, checks that every container
of the project is healthy and runs as the non-root user, and appends the figures to a file.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

DOCKER = "/usr/bin/docker"
COMPONENT_UID = "10001"


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


def check_containers(project: str) -> list[str]:
    """Every container of the project healthy and running as the component user; their names."""
    names = docker("ps", "-a", "--filter", f"label=com.docker.compose.project={project}", "--format", "{{.Names}}")
    containers = sorted(names.split())
    if not containers:
        raise SystemExit(f"smoke: no container of project {project}")
    problems = []
    for name in containers:
        state = json.loads(docker("inspect", "--format", "{{json .State}}", name))
        health = (state.get("Health") or {}).get("Status")
        if state.get("Status") != "running" or health != "healthy":
            problems.append(f"{name}: {state.get('Status')}, health {health}")
            continue
        uid = docker("exec", name, "id", "-u").strip()
        if uid != COMPONENT_UID:
            problems.append(f"{name}: runs as uid {uid}, not {COMPONENT_UID}")
    if problems:
        raise SystemExit("smoke: " + "; ".join(problems))
    return containers


def main() -> int:
    parser = argparse.ArgumentParser(prog="hack/smoke_check.py")
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--started", type=float, required=True, help="wall clock when `compose up` began")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--figures", type=Path, required=True)
    parser.add_argument("--sources", default="cam0,cam1")
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    wait_backend(args.url, deadline)
    backend_up = time.time()
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
    containers = check_containers(args.project)
    lines = [
        "== compose stack",
        f"containers healthy, uid {COMPONENT_UID}: {len(containers)} ({', '.join(containers)})",
        f"compose up -> backend healthy: {backend_up - args.started:.0f} s",
        f"compose up -> installed and opened: {opened - args.started:.0f} s",
        *(
            f"first result of {s}: {t - args.started:.0f} s after compose up, {t - opened:.1f} s after open"
            for s, t in sorted(first.items())
        ),
    ]
    args.figures.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
