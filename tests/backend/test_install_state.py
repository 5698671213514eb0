"""The install state machine: allowed and refused transitions, degraded/recovered, restart recovery, and the
API answering 409 for an action the phase does not allow. Real SQLite store, real backend on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.contracts.install import InstallPhase, InstallState
from backend.install.state import TRANSITIONS, InstallStateMachine
from backend.store import Store
from common.errors import Conflict, Unavailable
from tests.backend.conftest import RunningBackend


@pytest.fixture
def states(tmp_path: Path) -> InstallStateMachine:
    return InstallStateMachine(Store(tmp_path / "db.sqlite3"))


@pytest.mark.unit
def test_every_phase_has_its_transitions_and_installed_is_reachable_only_through_installing() -> None:
    assert set(TRANSITIONS) == set(InstallPhase)
    assert [p for p, targets in TRANSITIONS.items() if InstallPhase.INSTALLED in targets] == [
        InstallPhase.INSTALLING,
        InstallPhase.DEGRADED,
    ]


@pytest.mark.unit
def test_a_full_life_is_stored_and_read_back(states: InstallStateMachine, tmp_path: Path) -> None:
    assert states.get() == InstallState()
    states.begin_install(policy="fixed", datasource="synthetic")
    states.progress("stage1", "deploying scheduler")
    states.installed(placement={"cam0": "edge1"}, deployment={"face-detection": ["edge1"]})
    again = InstallStateMachine(Store(tmp_path / "db.sqlite3")).get()  # what another reader sees
    assert again.phase == InstallPhase.INSTALLED and again.step == "done" and again.placement == {"cam0": "edge1"}
    assert [e.step for e in again.progress] == ["validated", "stage1"]
    states.begin_uninstall()
    assert states.uninstalled().phase == InstallPhase.UNINSTALLED and states.get() == InstallState()


@pytest.mark.unit
def test_illegal_transitions_are_refused_and_change_nothing(states: InstallStateMachine) -> None:
    with pytest.raises(Conflict, match="'uninstalled' to 'installed'"):
        states.installed()
    with pytest.raises(Conflict):
        states.mark_degraded("monitor-edge1 is down")
    states.begin_install(policy="fixed")
    with pytest.raises(Conflict, match="'installing' to 'installing'"):
        states.begin_install(policy="other")
    with pytest.raises(Conflict):
        states.mark_recovered()
    assert states.get().phase == InstallPhase.INSTALLING and states.get().policy == "fixed"
    with pytest.raises(ValueError, match="transition"):
        states.update(phase=InstallPhase.INSTALLED)


@pytest.mark.unit
def test_degraded_and_recovered(states: InstallStateMachine) -> None:
    states.begin_install()
    states.installed()
    state = states.mark_degraded("processor-face-detection-edge1 does not answer")
    assert state.phase == InstallPhase.DEGRADED and state.deployed and "edge1" in (state.degraded_reason or "")
    assert states.mark_degraded("two are down now").degraded_reason == "two are down now"
    state = states.mark_recovered()
    assert state.phase == InstallPhase.INSTALLED and state.degraded_reason is None
    with pytest.raises(Conflict):
        states.mark_recovered()  # nothing to recover from


@pytest.mark.unit
def test_failure_keeps_the_error_and_a_new_install_may_follow(states: InstallStateMachine) -> None:
    states.begin_install()
    state = states.fail(Unavailable("stage1: 1 of 3 not ready", detail={"not_ready": ["monitor-edge1"]}))
    assert state.phase == InstallPhase.FAILED and state.error is not None
    assert state.error.code == "unavailable" and state.error.detail == {"not_ready": ["monitor-edge1"]}
    assert states.begin_install().error is None  # a fresh record


@pytest.mark.unit
def test_a_restart_during_an_install_leaves_it_failed(states: InstallStateMachine) -> None:
    states.begin_install()
    state = states.recover_after_restart()
    assert (
        state.phase == InstallPhase.FAILED
        and state.error is not None
        and "restarted while installing" in state.error.message
    )
    assert states.recover_after_restart().phase == InstallPhase.FAILED  # nothing more to recover


@pytest.mark.unit
def test_an_unreadable_stored_state_reads_as_failed_not_as_an_error(states: InstallStateMachine) -> None:
    states.store.set_state("install", {"phase": "exploded", "whatever": 1})
    state = states.get()
    assert state.phase == InstallPhase.FAILED and state.error is not None and state.error.code == "invalid_state"
    states.begin_uninstall()  # the way out
    assert states.uninstalled().phase == InstallPhase.UNINSTALLED


@pytest.mark.integration
def test_the_api_answers_409_for_actions_the_phase_does_not_allow(backend: RunningBackend) -> None:
    c = backend.client()
    states = InstallStateMachine(Store(backend.state_dir / "backend.sqlite3"))
    states.begin_install(policy="fixed", datasource="synthetic")  # as if an install were running
    response = c.post("/api/install", json={"datasource": "synthetic", "dag": "face-detection"})
    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"
    assert c.get("/api/install").json()["phase"] == "installing"
    assert c.post("/api/redeploy").status_code == 409
    assert c.post("/api/query/open").status_code == 409
