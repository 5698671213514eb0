"""The install follows the health of what it deployed: degraded while a component is down, installed again
once every one serves. A loop in the backend keeps it current, so readers of the state (``GET
/api/install``, its event stream, ``dayuctl status``) see a crash and its recovery without asking for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from backend.contracts.install import InstallPhase
from backend.deploy.base import Deployer
from backend.install.state import InstallStateMachine
from common.periodic import every

log = logging.getLogger(__name__)
STATUS_TIMEOUT_S = 10.0
"""Bound of one look at the runtime (the local runtime probes every component's /health)."""


async def follow_health(
    states: InstallStateMachine, deployer: Deployer, restarts: dict[str, int] | None = None
) -> None:
    """One look: degraded while a deployed workload is not ready (or gone), installed once all are again.

    ``restarts`` (kept by the caller between looks) holds each workload's restart count: a component that
    crashed and was restarted between two looks counts as down for this look, so a crash shorter than the
    interval is still reported (degraded until the next look), never missed."""
    state = states.get()
    if state.phase not in (InstallPhase.INSTALLED, InstallPhase.DEGRADED):
        return
    statuses = {s.name: s for s in await asyncio.wait_for(deployer.status(), STATUS_TIMEOUT_S)}
    if states.get().phase != state.phase:  # an uninstall moved on while the runtime answered
        return
    names = [w.name for w in state.workloads] or sorted(statuses)
    crashed = {n for n in names if n not in statuses or not statuses[n].ready}
    if restarts is not None:
        counts = {n: statuses[n].restarts for n in names if n in statuses}
        crashed |= {n for n, count in counts.items() if count > restarts.get(n, count)}
        restarts.clear()
        restarts.update(counts)
    down = sorted(crashed)
    if down:
        reason = "down: " + ", ".join(down)
        if state.phase != InstallPhase.DEGRADED or state.degraded_reason != reason:
            log.warning("install degraded: %s", reason)
            states.mark_degraded(reason)
    elif state.phase == InstallPhase.DEGRADED:
        log.info("install recovered: every component serves again")
        states.mark_recovered()


async def health_loop(
    interval: float,
    states: InstallStateMachine,
    deployer: Deployer,
    busy: asyncio.Lock,
    *,
    wait: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Every ``interval`` seconds; skipped while ``busy`` is held (a redeployment starts and removes
    processors, an uninstall removes everything: neither is a crash). ``wait`` is the pause between two
    looks: tests pass one they release look by look."""
    restarts: dict[str, int] = {}
    await every(
        interval,
        lambda: follow_health(states, deployer, restarts),
        what="looking at the components' health",
        log=log,
        skip=busy.locked,
        wait=wait,
    )
