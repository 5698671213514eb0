"""Hook registry: registration, clear errors, and optional dependencies that skip one module only."""

from __future__ import annotations

import logging
import textwrap
import threading
import uuid
from pathlib import Path

import pytest
from pydantic import ConfigDict, Field

from common.errors import HookError
from common.registry import REGISTRY, Hook, HookChoice, HookConfig, HookRegistry, hook

pytestmark = pytest.mark.unit


class ResizeConfig(HookConfig):
    width: int = Field(640, ge=16, le=8192, description="Target width in pixels.")
    keep_aspect: bool = Field(True, description="Keep the aspect ratio.")


@pytest.fixture
def registry() -> HookRegistry:
    return HookRegistry()


def define(registry: HookRegistry, family: str = "frame_process", alias: str = "resize") -> type[Hook]:
    @hook(family, alias, registry)
    class Resize(Hook):
        """Resize frames."""

        Config = ResizeConfig

        def __init__(self, config: HookConfig, *, work_dir: Path | None = None) -> None:
            super().__init__(config)
            self.work_dir = work_dir

    return Resize


def test_decorator_registers_and_create_validates_params(registry, tmp_path):
    cls = define(registry)
    assert cls.family == "frame_process" and cls.alias == "resize"
    assert registry.families() == ["frame_process"] and registry.aliases("frame_process") == ["resize"]
    made = registry.create("frame_process", "resize", {"width": "320"}, work_dir=tmp_path)
    assert isinstance(made, cls) and made.config == ResizeConfig(width=320) and made.work_dir == tmp_path
    assert registry.create("frame_process", "resize").config.width == 640  # defaults when no params


def test_unknown_alias_lists_the_known_ones(registry):
    define(registry, alias="resize")
    define(registry, alias="crop")
    with pytest.raises(HookError) as err:
        registry.get("frame_process", "rotate")
    assert "unknown frame_process hook 'rotate'; known: crop, resize" in err.value.message
    assert err.value.detail["known"] == ["crop", "resize"] and err.value.status_code == 400


def test_unknown_family_lists_the_known_ones(registry):
    define(registry)
    with pytest.raises(HookError, match="unknown hook family 'nope'; known families: frame_process"):
        registry.create("nope", "resize")


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"width": 2}, "width", "Input should be greater than or equal to 16"),
        ({"width": "wide"}, "width", "Input should be a valid integer"),
        ({"height": 10}, "height", "Extra inputs are not permitted"),
    ],
)
def test_bad_parameter_names_the_field(registry, params, field, words):
    define(registry)
    with pytest.raises(HookError) as err:
        registry.create("frame_process", "resize", params)
    assert f"bad parameters for frame_process hook 'resize': {field}: {words}" in err.value.message
    assert err.value.detail[0]["field"] == field


def test_parameters_must_be_a_mapping(registry):
    define(registry)
    with pytest.raises(HookError, match="must be a mapping, got list"):
        registry.create("frame_process", "resize", [("width", 320)])  # type: ignore[arg-type]


def test_alias_clash_is_refused_but_redefinition_of_the_same_class_is_not(registry):
    define(registry)
    define(registry)  # the same module-level class defined again (a reload) replaces itself

    class Other(Hook):
        pass

    with pytest.raises(HookError, match="already registered"):
        registry.register("frame_process", "resize", Other)


def test_config_must_be_a_forbidding_hook_config(registry):
    class Loose(HookConfig):
        model_config = ConfigDict(extra="allow")

    class LooseHook(Hook):
        Config = Loose

    with pytest.raises(HookError, match="extra='forbid'"):
        registry.register("f", "loose", LooseHook)

    class NotAConfig(Hook):
        Config = dict  # type: ignore[assignment]

    with pytest.raises(HookError, match="subclass HookConfig"):
        registry.register("f", "bad", NotAConfig)
    with pytest.raises(HookError, match="non-empty"):
        registry.register("", "x", Hook)


def test_describe_gives_schemas_for_the_dashboard(registry):
    define(registry)
    (entry,) = registry.describe("frame_process")
    assert entry["alias"] == "resize" and entry["doc"] == "Resize frames."
    assert entry["config"]["properties"]["width"]["description"] == "Target width in pixels."
    assert entry["config"]["additionalProperties"] is False


def test_hook_choice_refuses_unknown_keys():
    assert HookChoice(alias="fifo").params == {}
    with pytest.raises(ValueError):
        HookChoice.model_validate({"alias": "fifo", "parms": {}})


def write_module(root: Path, name: str, body: str) -> None:
    (root / f"{name}.py").write_text(textwrap.dedent(body))


def test_missing_optional_dependency_skips_one_module_with_one_warning(tmp_path, monkeypatch, caplog):
    """Three modules of one family: one needs a package that is not installed, one fails while
    initialising (as a GPU binding does on a machine without a GPU), one is fine."""
    family = f"fam_{uuid.uuid4().hex[:8]}"
    tag = uuid.uuid4().hex[:8]
    good, torchy, gpu = f"good_{tag}", f"torchy_{tag}", f"gpu_{tag}"
    header = f"""
        from common.registry import Hook, hook
        FAMILY = {family!r}
    """
    write_module(tmp_path, good, textwrap.dedent(header) + "\n@hook(FAMILY, 'cpu')\nclass Cpu(Hook):\n    pass\n")
    write_module(tmp_path, torchy, "import not_installed_pkg_xyz\n" + textwrap.dedent(header))
    write_module(tmp_path, gpu, "raise RuntimeError('no CUDA device')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    REGISTRY.declare_modules(family, [torchy, good, gpu])
    with caplog.at_level(logging.WARNING, logger="common.registry"):
        assert REGISTRY.aliases(family) == ["cpu"]
        assert REGISTRY.aliases(family) == ["cpu"]
        REGISTRY.create(family, "cpu")
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2, warnings  # one per skipped module, not one per lookup
    assert any(torchy in w and "not_installed_pkg_xyz" in w for w in warnings)
    assert any(gpu in w and "no CUDA device" in w for w in warnings)
    skipped = REGISTRY.skipped(family)
    assert set(skipped) == {torchy, gpu} and "ModuleNotFoundError" in skipped[torchy]
    with pytest.raises(HookError) as err:
        REGISTRY.get(family, "torch-model")
    assert "known: cpu" in err.value.message and torchy in err.value.message


def test_concurrent_first_use_sees_the_whole_family(tmp_path, monkeypatch):
    family = f"fam_{uuid.uuid4().hex[:8]}"
    name = f"slow_{uuid.uuid4().hex[:8]}"
    write_module(
        tmp_path,
        name,
        f"""
        import time
        from common.registry import Hook, hook
        time.sleep(0.2)

        @hook({family!r}, 'late')
        class Late(Hook):
            pass
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    REGISTRY.declare_modules(family, [name])
    seen: list[list[str]] = []
    threads = [threading.Thread(target=lambda: seen.append(REGISTRY.aliases(family))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert seen == [["late"]] * 4


def test_a_choice_is_checked_at_load_and_a_skipped_plugin_only_where_its_host_is_unknown() -> None:
    """A config field typed with HookFamily: alias and params are checked when the model validates; the alias
    of a module skipped for a missing dependency passes only inside skipped_modules_unchecked (the backend
    validating for another host), never in the component itself, and no other unknown alias passes there."""
    from typing import Annotated

    from pydantic import BaseModel, ValidationError

    from common.registry import HookFamily, skipped_modules_unchecked

    registry = HookRegistry()

    class SharpConfig(HookConfig):
        amount: float = Field(0.5, ge=0)

    @hook("filter", "sharp", registry)
    class Sharp(Hook):
        Config = SharpConfig

    registry.declare_modules("filter", ["no_such_package_for_dayu_tests.gpu_sharp"])

    class Component(BaseModel):
        model_config = ConfigDict(extra="forbid")
        filter: Annotated[HookChoice, HookFamily("filter", registry=registry)]

    Component.model_validate({"filter": {"alias": "sharp", "params": {"amount": 1}}})
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        Component.model_validate({"filter": {"alias": "sharp", "params": {"amount": -1}}})
    with pytest.raises(ValidationError, match="unknown filter hook 'gpu-sharp'; known: sharp; module no_such"):
        Component.model_validate({"filter": {"alias": "gpu-sharp"}})
    with skipped_modules_unchecked():
        Component.model_validate({"filter": {"alias": "gpu-sharp"}})
        with pytest.raises(ValidationError, match="unknown filter hook 'clairvoyant'"):
            Component.model_validate({"filter": {"alias": "clairvoyant"}})
        with pytest.raises(ValidationError):  # a known plugin is still checked
            Component.model_validate({"filter": {"alias": "sharp", "params": {"amount": -1}}})
