"""The install state machine: the only code that changes the stored install state.

Every change is a method here. A phase change goes through :meth:`InstallStateMachine.transition`,
which refuses a move the table below does not allow with :class:`~common.errors.Conflict` (409);
changes within a phase (progress, readiness, the deployed workloads) keep the phase as it is.

::

    uninstalled --install--> installing --ok--> installed <--recovered/degraded--> degraded
         ^                        |                 |                                 |
         |                      fails               +---------- uninstall ------------+
         |                        v                                   |
         +--- removed --- uninstalling <------------ uninstall -- failed
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from pydantic import ValidationError

from backend.contracts.install import ErrorInfo, InstallPhase, InstallState, ProgressEntry
from backend.store import Store
from common.errors import Conflict, DayuError

STATE_KEY = "install"
MAX_PROGRESS = 50

TRANSITIONS: dict[InstallPhase, frozenset[InstallPhase]] = {
    InstallPhase.UNINSTALLED: frozenset({InstallPhase.INSTALLING, InstallPhase.UNINSTALLING}),
    InstallPhase.INSTALLING: frozenset({InstallPhase.INSTALLED, InstallPhase.FAILED, InstallPhase.UNINSTALLING}),
    InstallPhase.INSTALLED: frozenset({InstallPhase.DEGRADED, InstallPhase.UNINSTALLING}),
    InstallPhase.DEGRADED: frozenset({InstallPhase.INSTALLED, InstallPhase.DEGRADED, InstallPhase.UNINSTALLING}),
    InstallPhase.UNINSTALLING: frozenset({InstallPhase.UNINSTALLED, InstallPhase.FAILED}),
    InstallPhase.FAILED: frozenset({InstallPhase.INSTALLING, InstallPhase.UNINSTALLING}),
}
"""Phase -> phases it may move to. ``degraded -> degraded`` updates the reason."""


def error_info(exc: BaseException) -> ErrorInfo:
    if isinstance(exc, DayuError):
        return ErrorInfo(code=exc.code, message=exc.message, detail=exc.detail)
    return ErrorInfo(message=repr(exc))


class InstallStateMachine:
    """The install state kept in the store, changed only through these methods."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.version = 0
        """Bumped by every stored change: watchers (the install event stream) compare it."""
        self._changed: asyncio.Event | None = None

    def get(self) -> InstallState:
        raw = self.store.get_state(STATE_KEY)
        if raw is None:
            return InstallState()
        try:
            return InstallState.model_validate(raw)
        except ValidationError as exc:
            # A state written by an older backend: say so instead of failing every route that reads it.
            message = f"the stored install state is unreadable ({exc.error_count()} problems); uninstall to reset"
            return InstallState(phase=InstallPhase.FAILED, error=ErrorInfo(code="invalid_state", message=message))

    def _save(self, state: InstallState) -> InstallState:
        state.updated = time.time()
        self.store.set_state(STATE_KEY, state.model_dump(mode="json"))
        self._bump()
        return state

    def _bump(self) -> None:
        self.version += 1
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    async def wait_change(self, seen: int, timeout: float) -> int:
        """The version after the next change past ``seen`` (at once if there was one), or after ``timeout``.

        Called from the event loop that makes the changes (every writer of the state runs there).
        """
        if self.version != seen:
            return self.version
        if self._changed is None:
            self._changed = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)
        return self.version

    # -- phase changes ---------------------------------------------------------------------------
    def transition(self, to: InstallPhase, *, step: str | None = None, **changes: Any) -> InstallState:
        """Move to phase ``to`` with ``changes`` to other fields, or raise Conflict (409) if not allowed."""
        state = self.get()
        self.check(to, state)
        data = {**state.model_dump(), **changes, "phase": to, "step": step if step is not None else state.step}
        return self._save(InstallState.model_validate(data))

    def check(self, to: InstallPhase, state: InstallState | None = None) -> None:
        current = (state or self.get()).phase
        if to not in TRANSITIONS[current]:
            raise Conflict(
                f"cannot go from {current.value!r} to {to.value!r}",
                detail={"phase": current.value, "wanted": to.value},
            )

    def begin_install(self, **fields: Any) -> InstallState:
        """A fresh install record (the previous one, failed or removed, is replaced)."""
        self.check(InstallPhase.INSTALLING)
        now = time.time()
        state = InstallState(phase=InstallPhase.INSTALLING, step="validated", started=now, **fields)
        state.progress = [ProgressEntry(at=now, step="validated", message="request validated")]
        return self._save(state)

    def installed(self, **fields: Any) -> InstallState:
        return self.transition(InstallPhase.INSTALLED, step="done", installed_at=time.time(), error=None, **fields)

    def fail(self, exc: BaseException) -> InstallState:
        return self.transition(InstallPhase.FAILED, step="failed", error=error_info(exc))

    def begin_uninstall(self) -> InstallState:
        return self.transition(InstallPhase.UNINSTALLING, step="removing")

    def uninstalled(self) -> InstallState:
        self.check(InstallPhase.UNINSTALLED)
        self.store.set_state(STATE_KEY, None)
        self._bump()
        return InstallState()

    def mark_degraded(self, reason: str) -> InstallState:
        """A deployed component is down (reported by whoever watches the components)."""
        return self.transition(InstallPhase.DEGRADED, degraded_reason=reason)

    def mark_recovered(self) -> InstallState:
        """Every component is serving again."""
        phase = self.get().phase
        if phase != InstallPhase.DEGRADED:
            raise Conflict(
                f"cannot recover: the install is {phase.value!r}, not degraded", detail={"phase": phase.value}
            )
        return self.transition(InstallPhase.INSTALLED, degraded_reason=None)

    def recover_after_restart(self) -> InstallState:
        """At backend start: an install or uninstall the previous process was running cannot still be going."""
        state = self.get()
        if state.phase not in (InstallPhase.INSTALLING, InstallPhase.UNINSTALLING):
            return state
        # "recovering" until the restarted backend has finished what was interrupted (it then reads installed,
        # uninstalled, or failed with code "interrupted"), so a reader never takes the cleanup for the outcome.
        message = f"the backend restarted while {state.phase.value}; finishing what it was doing"
        return self.transition(InstallPhase.FAILED, step="failed", error=ErrorInfo(code="recovering", message=message))

    # -- changes within a phase --------------------------------------------------------------------
    def update(self, **changes: Any) -> InstallState:
        """Change fields other than the phase (progress of a stage, redeployed workloads)."""
        if "phase" in changes:
            raise ValueError("phase changes go through transition()")
        state = self.get()
        return self._save(InstallState.model_validate({**state.model_dump(), **changes}))

    def progress(self, step: str, message: str) -> InstallState:
        state = self.get()
        entries = [*state.progress, ProgressEntry(at=time.time(), step=step, message=message)][-MAX_PROGRESS:]
        return self.update(step=step, progress=entries)
