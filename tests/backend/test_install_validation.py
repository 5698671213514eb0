"""Every component config of an install is checked against the component's own models (hook aliases and
their parameters included) before anything is deployed; a bad template value is refused with a 400 naming the
template file, the line, the field and the value. Real backend on loopback over a copy of the template."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.datasource_config import SourceEntry
from backend.install.validate import CONFIG_MODELS, check_config, config_model, validate_install
from backend.planner import ResolvedSource, resolve_dag
from backend.templates import load_template
from common.errors import ConfigError
from tests.backend.conftest import REPO, RunningBackend

pytestmark = pytest.mark.integration
INSTALL = {"datasource": "synthetic", "dag": "face-detection"}


def _refused(backend: RunningBackend) -> str:
    c = backend.client()
    response = c.post("/api/install", json=INSTALL)
    assert response.status_code == 400, response.text
    assert c.get("/api/install").json()["phase"] == "uninstalled"
    assert c.get("/api/instances").json() == []  # nothing was started
    message: str = response.json()["error"]["message"]
    return message


def test_a_bad_plugin_parameter_is_refused_naming_template_line_field_and_value(
    tmp_path: Path, template_dir: Path
) -> None:
    path = template_dir / "processor" / "face-detection.yaml"
    path.write_text(
        path.read_text().replace(
            "    alias: face-detection\n    params:\n", "    alias: face-detection\n    params:\n      min_size: 2\n"
        )
    )
    with RunningBackend(tmp_path / "state", template_dir) as backend:
        message = _refused(backend)
    assert "processor/face-detection.yaml:10:" in message, message
    assert "application.params.min_size" in message and "(got 2)" in message and "greater than or equal to 8" in message


def test_an_unknown_parameter_and_an_unknown_alias_are_refused(tmp_path: Path, template_dir: Path) -> None:
    path = template_dir / "scheduler" / "fixed.yaml"
    path.write_text(path.read_text().replace("params: {}", "params: {speed: 3}"))
    with RunningBackend(tmp_path / "state", template_dir) as backend:
        message = _refused(backend)
    assert "scheduler/fixed.yaml:" in message and "agent.params.speed" in message and "Extra inputs" in message
    path.write_text(path.read_text().replace("alias: fixed", "alias: clairvoyant").replace("{speed: 3}", "{}"))
    with RunningBackend(tmp_path / "state2", template_dir) as backend:
        message = _refused(backend)
    assert "agent.alias" in message and "unknown agent hook 'clairvoyant'; known:" in message and "fixed" in message


def test_an_old_alias_spelling_names_the_new_one(tmp_path: Path, template_dir: Path) -> None:
    path = template_dir / "monitor" / "default.yaml"
    path.write_text(path.read_text().replace("queue-length", "queue_length"))
    with RunningBackend(tmp_path / "state", template_dir) as backend:
        message = _refused(backend)
    assert "monitor/default.yaml:8:" in message and "'queue_length' is now spelled 'queue-length'" in message


def test_a_bad_non_plugin_value_is_refused_too(tmp_path: Path, template_dir: Path) -> None:
    path = template_dir / "generator" / "default.yaml"
    path.write_text(path.read_text().replace("schedule_interval: 5.0", "schedule_interval: -1"))
    with RunningBackend(tmp_path / "state", template_dir) as backend:
        message = _refused(backend)
    assert "generator/default.yaml:6: schedule_interval:" in message and "(got -1)" in message


@pytest.mark.unit
def test_every_shipped_policy_and_service_validates() -> None:
    """What the repository ships installs: every policy with every DAG of base.yaml, every service's template."""
    template = load_template(REPO / "template")
    assert set(CONFIG_MODELS) == {"generator", "controller", "processor", "distributor", "scheduler", "monitor"}
    assert all(config_model(c).model_config.get("extra") == "forbid" for c in CONFIG_MODELS)
    entry = SourceEntry.model_validate({"id": "cam0", "mode": "http", "dataset": "synthetic"})
    sources = [
        ResolvedSource(entry=entry, dag_name=name, dag=resolve_dag(template, spec.model_dump(mode="json")),
                       spec=spec.model_dump(mode="json"), nodes=["cloud"], attach=["edge1"])
        for name, spec in template.base.dags.items()
    ]  # fmt: skip
    for policy in template.policies:
        validate_install(template, policy, sources)
    for service in template.services.values():
        comp = template.component(service.template)
        check_config(comp, {**comp.config, "service": service.id})
    bad = template.component("generator/default.yaml").model_copy(update={"config": {"schedule_interval": "often"}})
    template.components["generator/default.yaml"] = bad
    with pytest.raises(ConfigError, match="schedule_interval"):
        validate_install(template, "fixed", sources)
