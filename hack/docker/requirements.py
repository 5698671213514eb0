"""The dependency lists of the images, read from ``pyproject.toml``: what every component needs, and each extra.

    python requirements.py PYPROJECT DIR          writes DIR/requirements.txt (the dependencies every component
                                                  needs) and DIR/extras/<extra>.txt for every extra
    python requirements.py PYPROJECT --list EXTRA...  prints the dependencies with those extras, one a line

An extra may name others of the project (``dayu[generator,processor]``, as ``all`` does): they are expanded
here, since the images install the lists with pip and never the project with its extras. Standard library only,
so it runs in the Dockerfile's first stage and on any host.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

SELF = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)\[(?P<extras>[^\]]+)\]$")


def load(pyproject: Path) -> tuple[str, list[str], dict[str, list[str]]]:
    project = tomllib.loads(pyproject.read_text())["project"]
    return project["name"], list(project["dependencies"]), dict(project.get("optional-dependencies", {}))


def expand(name: str, extras: dict[str, list[str]], extra: str, seen: frozenset[str] = frozenset()) -> list[str]:
    """The requirements of ``extra``, those of the project's own extras it names included, each once, in order."""
    if extra not in extras:
        raise SystemExit(f"requirements: no extra {extra!r} in pyproject.toml (known: {', '.join(sorted(extras))})")
    if extra in seen:
        raise SystemExit(f"requirements: the extra {extra!r} names itself through {', '.join(sorted(seen))}")
    out: list[str] = []
    for requirement in extras[extra]:
        own = SELF.match(requirement.strip())
        if own is not None and own["name"] == name:
            for inner in own["extras"].split(","):
                out += expand(name, extras, inner.strip(), seen | {extra})
        else:
            out.append(requirement)
    return list(dict.fromkeys(out))


def write(pyproject: Path, out: Path) -> None:
    name, core, extras = load(pyproject)
    (out / "extras").mkdir(parents=True, exist_ok=True)
    (out / "requirements.txt").write_text("".join(f"{r}\n" for r in core))
    for extra in extras:
        (out / "extras" / f"{extra}.txt").write_text("".join(f"{r}\n" for r in expand(name, extras, extra)))


def listed(pyproject: Path, wanted: list[str]) -> list[str]:
    name, core, extras = load(pyproject)
    return list(dict.fromkeys(core + [r for extra in wanted for r in expand(name, extras, extra)]))


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[1] == "--list":
        print(*listed(Path(argv[0]), argv[2:]), sep="\n")
        return 0
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    write(Path(argv[0]), Path(argv[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
