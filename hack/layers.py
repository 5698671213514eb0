"""The layering rules of the code base, checked from the import statements (``make lint``).

    common/      imports no component (no services, backend or datasource)
    services/X   imports common and services.X only (no other service, no backend, no datasource)
    datasource/  imports common only (no services, no backend)
    backend/     imports no runtime component (no services): it starts them as processes (the local runtime,
                 backend/local_runtime/, imports common and itself only), runs their offline tools as
                 processes (backend/offline.py) and loads their config models by name to validate an
                 install's configs (backend/install/validate.py)

Imports are found in the syntax tree: ``import``/``from`` statements anywhere (also inside functions), and
module names given as string literals to ``importlib.import_module`` and ``REGISTRY.declare_modules``.
``python hack/layers.py [ROOT]`` prints one line per broken rule (``file:line: rule``) and exits 1 if any.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPONENTS = ("services", "backend", "datasource")
DYNAMIC = ("import_module", "declare_modules")
LOCAL_RUNTIME = "backend.local_runtime"


def imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in ``tree``, relative imports excluded (they stay in their package)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in DYNAMIC:
                for arg in node.args:
                    for const in ast.walk(arg):
                        if isinstance(const, ast.Constant) and isinstance(const.value, str):
                            yield node.lineno, const.value


def broken(path: Path, root: Path) -> Iterator[str]:
    """The rules ``path`` breaks, as ``file:line: rule`` lines."""
    rel = path.relative_to(root)
    top = rel.parts[0]
    own = ".".join(rel.parts[:2]) if top == "services" and len(rel.parts) > 2 else None
    local_runtime = ".".join(rel.parts[:2]) == LOCAL_RUNTIME and len(rel.parts) > 2
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(rel))
    for line, module in imported(tree):
        head = module.split(".")[0]
        if head not in COMPONENTS:
            continue
        rule = None
        if top == "common":
            rule = f"common imports no component, but imports {module}"
        elif top == "datasource" and head != "datasource":
            rule = f"datasource imports only common, but imports {module}"
        elif top == "services" and head != "services":
            rule = f"services import neither backend nor datasource, but {own or 'services'} imports {module}"
        elif top == "services" and own is not None and module != own and not module.startswith(own + "."):
            rule = f"{own} imports only itself and common, but imports {module}"
        elif local_runtime and module != LOCAL_RUNTIME and not module.startswith(LOCAL_RUNTIME + "."):
            rule = f"{LOCAL_RUNTIME} imports only itself and common, but imports {module}"
        elif top == "backend" and head == "services":
            rule = f"backend imports no runtime component, but imports {module}"
        if rule:
            yield f"{rel}:{line}: {rule}"


def check(root: Path) -> list[str]:
    problems: list[str] = []
    for top in ("common", "services", "datasource", "backend"):
        for path in sorted((root / top).rglob("*.py")):
            problems.extend(broken(path, root))
    return problems


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    root = Path(args[0]).resolve() if args else ROOT
    problems = check(root)
    for line in problems:
        print(line)
    if problems:
        print(f"layering: {len(problems)} import(s) break the rules (see hack/layers.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
