"""Datasource config files: validated, with errors naming the file and the line at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.config import load_yaml_model, parse_yaml_model
from common.errors import ConfigError
from datasource.config import DatasourceConfig, parse_resolution

pytestmark = pytest.mark.unit

GOOD = """\
name: synthetic
sources:
  - id: cam0
    mode: http
    dataset: synthetic
    node_candidates: [edge1]
  - id: cam1
    mode: rtsp
    play: once
    dataset: synthetic
    resolution: 1280x720
    fps: 15
"""


def test_good_config_and_the_templates_one() -> None:
    config = parse_yaml_model(GOOD, DatasourceConfig, source="ds.yaml")
    assert [s.id for s in config.sources] == ["cam0", "cam1"]
    assert config.sources[1].play == "once" and config.sources[1].fps == 15
    template = Path(__file__).resolve().parents[2] / "template" / "datasource" / "synthetic.yaml"
    if template.exists():
        assert load_yaml_model(template, DatasourceConfig).sources


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (GOOD.replace("    mode: rtsp", "    mode: ftp"), 8, "sources.1.mode"),
        (GOOD.replace("    fps: 15", "    fps: -1"), 12, "greater than 0"),
        (GOOD.replace("    resolution: 1280x720", "    resolution: huge"), 11, "neither one of"),
        (GOOD.replace("    play: once", "    play: once\n    colour: red"), 10, "colour"),
        (GOOD.replace("  - id: cam1", "  - id: cam0"), 2, "duplicate source ids: cam0"),
        (
            GOOD.replace("    dataset: synthetic\n    node", "    url: rtsp://x/y\n    dataset: synthetic\n    node"),
            3,
            "exactly one",
        ),
        (GOOD.replace("  - id: cam1", "  - id: Cam 1"), 7, "sources.1.id"),
    ],
)
def test_bad_configs_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_yaml_model(text, DatasourceConfig, source="ds.yaml")
    assert caught.value.message.startswith(f"ds.yaml:{line}:"), caught.value.message
    assert words in caught.value.message


def test_broken_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ds.yaml:4: invalid YAML"):
        parse_yaml_model("name: x\nsources:\n  - id: [cam0\n", DatasourceConfig, source="ds.yaml")
    with pytest.raises(ConfigError, match="no such file"):
        load_yaml_model(tmp_path / "none.yaml", DatasourceConfig)


def test_resolutions() -> None:
    assert parse_resolution("720p") == (1280, 720)
    assert parse_resolution("640x360") == (640, 360)
    with pytest.raises(ValueError):
        parse_resolution("0x0")
