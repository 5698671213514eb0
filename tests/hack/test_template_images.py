"""Every image the templates in template/ reference has a build target in hack/images.list, with the
registry and repository the builds default to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.hack.images import ROOT, load_images

pytestmark = pytest.mark.unit

TEMPLATE = ROOT / "template"
VARIANTS = ("gpu", "jetson5", "jetson6")


def component_templates() -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted(TEMPLATE.glob("*/*.yaml")):
        data = yaml.safe_load(path.read_text())
        if isinstance(data, dict) and "component" in data and "image" in data:
            out.append((path, data))
    return out


def referenced_images() -> dict[str, str]:
    """Image name -> the template that references it (with the variants of `gpu_variants: true`)."""
    templates = component_templates()
    assert templates, "template/ has no component templates (template/<component>/*.yaml with an image)"
    out: dict[str, str] = {}
    for path, data in templates:
        names = [data["image"]]
        if data.get("gpu_variants"):
            names += [f"{data['image']}-{variant}" for variant in VARIANTS]
        for name in names:
            out.setdefault(name, str(path.relative_to(ROOT)))
    return out


def test_every_referenced_image_has_a_build_target() -> None:
    images = load_images()
    missing = {name: where for name, where in referenced_images().items() if name not in images}
    assert not missing, f"images referenced by templates without a build target: {missing}"


def test_gpu_variants_are_built_for_their_hardware() -> None:
    images = load_images()
    for name in referenced_images():
        if name.endswith("-gpu"):
            assert images[name].variant == "gpu" and images[name].platforms == ("linux/amd64",)
        elif name.endswith(("-jetson5", "-jetson6")):
            assert images[name].variant == "jetson" and images[name].platforms == ("linux/arm64",)
            jetpack = "r35." if name.endswith("5") else "r36."
            assert any(f"l4t-jetpack:{jetpack}" in arg for arg in images[name].build_args), name
        else:
            assert set(images[name].platforms) == {"linux/amd64", "linux/arm64"}, name


def test_base_yaml_points_at_the_default_registry_and_repository() -> None:
    base = TEMPLATE / "base.yaml"
    image = yaml.safe_load(base.read_text()).get("image", {})
    assert image.get("registry", "docker.io") == "docker.io"
    assert image.get("repository", "dayuhub") == "dayuhub"


def test_the_backend_resolves_every_node_kind_to_a_built_image() -> None:
    """The backend's own resolution (node labels -> variant) lands on built images for every template."""
    from backend import planner
    from backend import templates as templates_module
    from common.topology import NodeSpec

    template = templates_module.load_template(TEMPLATE)
    nodes = [
        NodeSpec(role="edge", arch="amd64"),
        NodeSpec(role="edge", arch="amd64", labels={planner.GPU_LABELS[0]: "true"}),
        NodeSpec(role="edge", arch="arm64", labels={planner.JETSON_LABEL: "5"}),
        NodeSpec(role="edge", arch="arm64", labels={planner.JETSON_LABEL: "6"}),
    ]
    images = load_images()
    prefix = f"{template.base.image.registry}/{template.base.image.repository}/"
    seen = set()
    for path, _ in component_templates():
        comp = templates_module.load_component(path)
        for node in nodes:
            ref = planner.image_for(template, comp, node)
            assert ref.startswith(prefix)
            name = ref.removeprefix(prefix).rsplit(":", 1)[0]
            assert name in images, f"{path.name} on {node.labels or node.arch}: {ref} has no build target"
            seen.add(name)
    assert {"processor-gpu", "processor-jetson5", "monitor-jetson6"} <= seen
