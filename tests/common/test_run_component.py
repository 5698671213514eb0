"""``common.entrypoint.run_component``, the one ``main()`` of every component: what runs in which order,
which errors become one line and which do not. The subprocess cases of each real entry point are in
``test_entrypoints.py``."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from common.config import ServiceSettings
from common.entrypoint import EXIT_CONFIG, run_component, serve_service
from common.errors import ConfigError

pytestmark = pytest.mark.unit


class Steps:
    """Each part of a component's start-up, recording that it ran."""

    def __init__(self, fail_at: str | None = None) -> None:
        self.ran: list[str] = []
        self.fail_at = fail_at
        self.app = FastAPI()

    def step(self, name: str) -> None:
        self.ran.append(name)
        if name == self.fail_at:
            raise ConfigError(f"{name} is wrong")

    def prepare(self) -> None:
        self.step("prepare")

    def read_settings(self) -> str:
        self.step("settings")
        return "settings"

    def check(self, settings: str) -> None:
        assert settings == "settings"
        self.step("check")

    def create_app(self, settings: str) -> FastAPI:
        assert settings == "settings"
        self.step("app")
        return self.app

    def serve(self, app: FastAPI, settings: str) -> None:
        assert app is self.app and settings == "settings"
        self.step("serve")

    def run(self) -> None:
        run_component("thing", self.read_settings, self.create_app, self.serve, check=self.check, prepare=self.prepare)


def test_each_part_runs_once_in_order() -> None:
    steps = Steps()
    steps.run()
    assert steps.ran == ["prepare", "settings", "check", "app", "serve"]


@pytest.mark.parametrize("part", ["settings", "check", "app"])
def test_an_error_before_serving_is_one_line_and_nothing_is_served(
    part: str, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = Steps(fail_at=part)
    with pytest.raises(SystemExit) as exit_:
        steps.run()
    assert exit_.value.code == EXIT_CONFIG
    assert capsys.readouterr().err == f"dayu-thing: {part} is wrong\n"
    assert "serve" not in steps.ran


def test_an_error_while_serving_is_not_taken_for_a_setting() -> None:
    steps = Steps(fail_at="serve")
    with pytest.raises(ConfigError):
        steps.run()


def test_a_service_has_its_topology_checked_before_its_app_is_built(capsys: pytest.CaptureFixture[str]) -> None:
    built: list[ServiceSettings] = []

    def create_app(settings: ServiceSettings) -> FastAPI:
        built.append(settings)
        return FastAPI()

    with pytest.raises(SystemExit):
        serve_service("svc", lambda: ServiceSettings(topology="{not json"), create_app)
    assert capsys.readouterr().err.startswith("dayu-svc: $DAYU_TOPOLOGY")
    assert built == []
