"""Every hook module is named after the alias it registers (``hei_nf.py`` -> ``hei-nf``). The backend relies
on it: when a module is skipped on the backend's host for a missing optional dependency (torch, tensorrt),
its alias is let through for the component to check, and only that alias (``common.registry.skipped_aliases``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from common.registry import skipped_aliases

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
# Modules whose alias differs from their name; each needs nothing beyond the base install, so it is never
# skipped and the backend always knows its alias.
NEVER_SKIPPED = {"services/generator/sources/camera.py": "v4l2"}


def _hook_aliases(path: Path) -> list[str]:
    """The literal aliases of ``@hook(family, "alias")`` decorators in ``path``."""
    aliases = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef):
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and getattr(deco.func, "id", None) == "hook" and len(deco.args) >= 2:
                    alias = deco.args[1]
                    if isinstance(alias, ast.Constant) and isinstance(alias.value, str):
                        aliases.append(alias.value)
    return aliases


def test_every_hook_module_is_named_after_its_alias() -> None:
    found = 0
    for path in sorted((REPO / "services").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        for alias in _hook_aliases(path):
            found += 1
            if rel in NEVER_SKIPPED:
                assert alias == NEVER_SKIPPED[rel], rel
                continue
            module = rel.removesuffix(".py").replace("/", ".")
            assert skipped_aliases({module: "skipped"}) == {alias}, f"{rel} registers {alias!r}"
    assert found >= 40  # the walk really saw the plugins (agents, probes, applications, sources, ...)
