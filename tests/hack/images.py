"""Shared readers for the image tests: the image list, the Dockerfile's stages, the repository root."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IMAGES_FILE = ROOT / "hack" / "images.list"
DOCKERFILE = ROOT / "hack" / "docker" / "Dockerfile"


@dataclass(frozen=True)
class ImageSpec:
    name: str
    target: str
    variant: str
    platforms: tuple[str, ...]
    build_args: tuple[str, ...]


def load_images() -> dict[str, ImageSpec]:
    images: dict[str, ImageSpec] = {}
    for line in IMAGES_FILE.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, target, variant, platforms, args = line.split()
        images[name] = ImageSpec(
            name=name,
            target=target,
            variant=variant,
            platforms=tuple(platforms.split(",")),
            build_args=() if args == "-" else tuple(args.split(",")),
        )
    return images


def project_version() -> str:
    match = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert match, "pyproject.toml has no version"
    return match.group(1)


def dockerfile_stages(text: str) -> dict[str, str]:
    """Stage name -> what it is built FROM (``${VAR}`` left as written)."""
    stages = {}
    for m in re.finditer(r"^FROM\s+(?:--\S+\s+)*(\S+)\s+AS\s+(\S+)\s*$", text, re.MULTILINE | re.IGNORECASE):
        stages[m.group(2)] = m.group(1)
    return stages
