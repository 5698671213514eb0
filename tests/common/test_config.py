"""Config loading: YAML validated into models with errors naming file and line; DAYU_* settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from common.config import (
    ServiceSettings,
    load_component_config,
    load_yaml,
    load_yaml_model,
    parse_yaml_model,
)
from common.errors import ConfigError

pytestmark = pytest.mark.unit


class Link(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: str
    b: str
    bandwidth_mbps: float = Field(gt=0)


class Base(BaseModel):
    model_config = ConfigDict(extra="forbid")
    namespace: str
    replicas: int = 1
    links: list[Link] = Field(default_factory=list)


GOOD = """\
namespace: dayu
replicas: 2
links:
  - a: cloud
    b: edge1
    bandwidth_mbps: 40
"""


def write(tmp_path: Path, text: str, name: str = "base.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_file_loads(tmp_path):
    model = load_yaml_model(write(tmp_path, GOOD), Base)
    assert model.replicas == 2 and model.links[0].bandwidth_mbps == 40


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            GOOD.replace("bandwidth_mbps: 40", "bandwidth_mbps: -3"),
            6,
            "links.0.bandwidth_mbps: Input should be greater",
        ),
        (GOOD.replace("replicas: 2", "replicas: two"), 2, "replicas: Input should be a valid integer"),
        (GOOD + "colour: red\n", 7, "colour: Extra inputs are not permitted"),
        (GOOD.replace("    b: edge1\n", ""), 4, "links.0.b: Field required"),
        (GOOD.replace("namespace: dayu", "namespace: [dayu"), 2, "invalid YAML"),
        (GOOD + "replicas: 3\n", 7, "duplicate key 'replicas' (first at line 2)"),
    ],
)
def test_errors_name_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_yaml_model(path, Base)
    assert err.value.message.startswith(f"{path}:{line}: "), err.value.message
    assert words in err.value.message
    assert err.value.status_code == 400 and err.value.code == "invalid_config"


def test_several_problems_are_all_in_the_detail(tmp_path):
    path = write(tmp_path, "namespace: 3.5\nreplicas: x\nextra: 1\n")
    with pytest.raises(ConfigError, match=r"and \d more") as err:
        load_yaml_model(path, Base)
    fields = {p["field"]: p["line"] for p in err.value.detail}
    assert fields == {"namespace": 1, "replicas": 2, "extra": 3}


@pytest.mark.parametrize(
    ("text", "words"),
    [("", "empty"), ("# only a comment\n", "empty"), ("a: 1\n---\nb: 2\n", "invalid YAML"), ("- 1\n- 2\n", "(root)")],
)
def test_documents_that_are_not_a_model(text, words):
    with pytest.raises(ConfigError, match=r"^t\.yaml") as err:
        parse_yaml_model(text, Base, source="t.yaml")
    assert words in err.value.message


def test_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_yaml_model(tmp_path / "absent.yaml", Base)
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="cannot read"):
        load_yaml_model(tmp_path / "bin.yaml", Base)
    with pytest.raises(ConfigError, match="cannot read"):
        load_yaml(tmp_path)  # a directory


def test_unsafe_yaml_tags_are_refused():
    with pytest.raises(ConfigError, match="invalid YAML"):
        parse_yaml_model("namespace: !!python/object/apply:os.system ['true']\n", Base, source="x")


def test_absurd_nesting_is_an_error_not_a_crash():
    with pytest.raises(ConfigError, match="nested too deeply"):
        parse_yaml_model("a: " + "[" * 5000 + "]" * 5000 + "\n", Base, source="deep.yaml")


def test_load_yaml_gives_lines_for_hand_validation(tmp_path):
    data, lines = load_yaml(write(tmp_path, GOOD))
    assert data["links"][0]["b"] == "edge1"
    assert lines[("links", 0, "b")] == 5 and lines[("replicas",)] == 2


def test_component_config_from_file_inline_json_or_defaults(tmp_path):
    assert load_component_config(None, Defaults).x == 1
    assert load_component_config("  ", Defaults).x == 1
    path = write(tmp_path, "namespace: n\n")
    assert load_component_config(str(path), Base).namespace == "n"
    assert load_component_config('{"namespace": "j", "replicas": 4}', Base).replicas == 4
    with pytest.raises(ConfigError, match=r"^\$DAYU_CONFIG:1: replicas"):
        load_component_config('{"namespace": "j", "replicas": "many"}', Base)


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: int = 1


def test_settings_read_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DAYU_PORT", "9123")
    monkeypatch.setenv("DAYU_NODE", "edge1")
    monkeypatch.setenv("DAYU_LOG_LEVEL", "debug")
    monkeypatch.setenv("DAYU_WORK_DIR", str(tmp_path))
    settings = ServiceSettings.from_env()
    assert (settings.port, settings.node, settings.log_level, settings.work_dir) == (9123, "edge1", "DEBUG", tmp_path)


@pytest.mark.parametrize(
    ("var", "value", "words"),
    [("DAYU_PORT", "70000", "$DAYU_PORT"), ("DAYU_PORT", "http", "$DAYU_PORT"), ("DAYU_LOG_LEVEL", "loud", "loud")],
)
def test_bad_settings_name_the_variable(monkeypatch, var, value, words):
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match="bad settings") as err:
        ServiceSettings.from_env()
    assert words in err.value.message


def test_settings_subclass_keeps_its_own_fields(monkeypatch):
    class ProcessorSettings(ServiceSettings):
        queue_size: int = Field(8, ge=1)

    monkeypatch.setenv("DAYU_QUEUE_SIZE", "0")
    with pytest.raises(ConfigError, match=r"\$DAYU_QUEUE_SIZE"):
        ProcessorSettings.from_env()
    monkeypatch.setenv("DAYU_QUEUE_SIZE", "3")
    assert ProcessorSettings.from_env(node="edge2").queue_size == 3


def billion_laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{','.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_quickly_and_small():
    """A few hundred bytes of nested aliases expand to 9**9 nodes: refused before anything expands them."""
    import time
    import tracemalloc

    text = billion_laughs()
    assert len(text) < 600
    tracemalloc.start()
    started = time.monotonic()
    with pytest.raises(ConfigError, match="alias") as info:
        parse_yaml_model(text, Base, source="bomb.yaml")
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert info.value.status_code == 400 and "bomb.yaml" in info.value.message
    # Not a speed target: an unbounded expansion takes minutes and gigabytes, a bounded one nothing.
    assert elapsed < 10 and peak < 50 * 1024 * 1024


def test_modest_aliases_still_load(tmp_path):
    text = "namespace: &ns dayu\nlinks:\n  - &l {a: cloud, b: edge1, bandwidth_mbps: 40}\n  - *l\n"
    model = parse_yaml_model(text, Base, source="ok.yaml")
    assert model.namespace == "dayu" and len(model.links) == 2 and model.links[1].b == "edge1"


def test_too_many_nodes_are_refused_without_aliases():
    text = "links: [" + ",".join(["1"] * 30_000) + "]\n"
    with pytest.raises(ConfigError, match="too many"):
        parse_yaml_model(text, Base, source="wide.yaml")
