"""pyproject.toml's extras, one per component: each component's imports are covered by what every component
needs and its own extra (never another's), ``all`` and ``dev`` install every component, and each image of
hack/docker/Dockerfile installs its component's extra.

Which modules a component imports is read from the syntax tree: every module of its package, then every module
they import (statements anywhere, also inside functions, and plugin modules named to ``declare_modules`` or
``import_module``). Which distribution provides an imported module, and what a distribution requires in turn,
is read from the installed packages' metadata (this environment installs every extra)."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.hack.images import DOCKERFILE, ROOT, load_images

pytestmark = pytest.mark.unit

_SPEC = importlib.util.spec_from_file_location("dayu_image_requirements", ROOT / "hack" / "docker" / "requirements.py")
assert _SPEC is not None and _SPEC.loader is not None
requirements = importlib.util.module_from_spec(_SPEC)  # hack/docker/requirements.py: the lists the images install
_SPEC.loader.exec_module(requirements)

LOCAL = ("common", "services", "backend", "datasource")
SERVICES = ("generator", "controller", "processor", "distributor", "scheduler", "monitor")
DEV_TOOLS = ("backend.profiler", "backend.awstream_profile", "backend.benchpolicies", "backend.launcher")
"""dayuctl's profile, bench-policies and analyze and dayu.sh's local launcher run components on this machine:
they need `all`, not the backend's extra."""
OPTIONAL = {"torch": "rl", "tensorrt": "gpu", "pycuda": "gpu"}
"""Plugins the registry skips, saying why, when their module is missing: the extra that installs it."""
NAME, CORE, EXTRAS = requirements.load(ROOT / "pyproject.toml")


def module_file(name: str) -> Path | None:
    path = ROOT / name.replace(".", "/")
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside ``try: ... except ImportError`` (or ModuleNotFoundError): the code does without the module."""
    current = parents.get(node)
    while current is not None:
        if isinstance(current, ast.Try) and any(
            h.type is not None and re.search(r"\b(ImportError|ModuleNotFoundError)\b", ast.unparse(h.type))
            for h in current.handlers
        ):
            return True
        current = parents.get(current)
    return False


@cache
def imports_of(module: str) -> tuple[frozenset[str], frozenset[str]]:
    """(modules of the project, top-level third-party modules not guarded) that ``module`` imports."""
    path = module_file(module)
    assert path is not None, module
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    local: set[str] = set()
    third: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Call):
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if func in ("import_module", "declare_modules"):
                names = [c.value for arg in node.args for c in ast.walk(arg) if isinstance(c, ast.Constant)]
                names = [n for n in names if isinstance(n, str) and n.startswith(LOCAL)]
        for name in names:
            top = name.split(".")[0]
            if top in LOCAL:
                if module_file(name) is not None:
                    local.add(name)
            elif top not in sys.stdlib_module_names and top != "__future__" and not _guarded(node, parents):
                third.add(top)
    return frozenset(local), frozenset(third)


def reached(roots: list[str]) -> set[str]:
    """Every module of the project the roots import, directly or not (packages' ``__init__`` included)."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in seen or module.startswith(DEV_TOOLS):
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += imports_of(module)[0]
    return seen


def modules_under(folder: str) -> list[str]:
    out = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


ROOTS = {c: modules_under(f"services/{c}") for c in SERVICES}
ROOTS["datasource"] = modules_under("datasource")
ROOTS["backend"] = [m for m in modules_under("backend") if not m.startswith(DEV_TOOLS)]


def installed_by(specs: list[str]) -> set[str]:
    """Canonical names of the distributions these requirements install, with what they require in turn."""
    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    todo = [Requirement(spec) for spec in specs]
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        names.add(key[0])
        try:
            requires = importlib.metadata.requires(req.name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for spec in requires:
            inner = Requirement(spec)
            wanted = req.extras or {""}
            if inner.marker is None or any(inner.marker.evaluate({"extra": e}) for e in wanted):
                todo.append(inner)
    return names


def providers(module: str) -> set[str]:
    return {canonicalize_name(d) for d in importlib.metadata.packages_distributions().get(module, [])}


def third_party(component: str) -> Iterator[str]:
    for module in sorted(reached(ROOTS[component])):
        yield from imports_of(module)[1]


@pytest.mark.parametrize("component", [*SERVICES, "backend", "datasource"])
def test_a_component_needs_only_the_common_dependencies_and_its_extra(component: str) -> None:
    assert component in EXTRAS, f"pyproject.toml has no extra {component!r}"
    own = installed_by(CORE + requirements.expand(NAME, EXTRAS, component))
    missing = {}
    for module in sorted(set(third_party(component))):
        if module in OPTIONAL:
            assert OPTIONAL[module] in EXTRAS, f"{module}: no extra {OPTIONAL[module]!r}"
            continue
        dists = providers(module)
        assert dists, f"{component} imports {module}, which no installed distribution provides"
        if not dists & own:
            missing[module] = sorted(dists)
    assert not missing, f"{component} imports what neither the dependencies nor its extra install: {missing}"


def test_all_installs_every_component_and_dev_installs_all() -> None:
    everything = set(requirements.expand(NAME, EXTRAS, "all"))
    for component in [*SERVICES, "monitor-gpu", "backend", "datasource"]:
        assert set(requirements.expand(NAME, EXTRAS, component)) <= everything, component
    assert everything <= set(requirements.expand(NAME, EXTRAS, "dev"))


def test_requirements_writes_every_list(tmp_path: Path) -> None:
    script = ROOT / "hack" / "docker" / "requirements.py"
    subprocess.run([sys.executable, str(script), str(ROOT / "pyproject.toml"), str(tmp_path)], check=True, timeout=60)
    assert (tmp_path / "requirements.txt").read_text().split() == CORE
    for extra in EXTRAS:
        lines = (tmp_path / "extras" / f"{extra}.txt").read_text().splitlines()
        assert lines == requirements.expand(NAME, EXTRAS, extra)
        assert not any(line.startswith(f"{NAME}[") for line in lines), f"{extra}: the project's extras not expanded"


def test_each_image_installs_its_components_extra_only() -> None:
    text = DOCKERFILE.read_text()
    for target in {image.target for image in load_images().values()}:
        body = re.search(rf"^FROM base AS {target}\s*$(.*?)(?=^FROM\s|\Z)", text, re.M | re.S)
        assert body, f"no stage {target}"
        installed = set(re.findall(r"/extras/([\w-]+|\$extra)\.txt", body.group(1)))
        if target == "monitor":
            assert (
                installed == {"$extra"} and "extra=monitor;" in body.group(1) and "extra=monitor-gpu;" in body.group(1)
            )
        else:
            assert installed == {target}, f"stage {target} installs the extras {installed}"
        assert "--no-deps /tmp/wheels/*.whl" in body.group(1), f"stage {target} does not install the project"
