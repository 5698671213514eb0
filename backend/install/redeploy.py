"""The redeploy loop: ask the scheduler for a deployment, diff it with the processors running, apply."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from backend.contracts.install import RedeployResult
from backend.deploy.base import Deployer
from backend.install.resolve import ResolvedInstall
from backend.install.runtime import RuntimeCalls
from backend.install.stages import make_planner
from backend.install.state import InstallStateMachine
from backend.templates import Template
from common.errors import DayuError
from common.periodic import Failures, every

log = logging.getLogger(__name__)


async def redeploy(
    template: Template,
    deployer: Deployer,
    states: InstallStateMachine,
    runtime: RuntimeCalls,
    resolved: ResolvedInstall,
    token: str | None,
) -> RedeployResult:
    """Processors the scheduler now wants are started (and waited for) before the unwanted ones go."""
    state = states.get()
    planner = make_planner(template, deployer, token)
    deployment = await runtime.deployment(resolved.sources, planner.cloud())
    current = {w.name: w for w in state.workloads}
    policy = template.policies[resolved.policy]
    urls = {s.entry.id: runtime.stream_url(s) for s in resolved.sources}
    wanted = {w.name: w for w in planner.stage2(policy, resolved.sources, state.placement, deployment, urls)}
    procs_now = {n for n, w in current.items() if w.component == "processor"}
    procs_wanted = {n for n, w in wanted.items() if w.component == "processor"}
    added = sorted(procs_wanted - procs_now)
    removed = sorted(procs_now - procs_wanted)
    if added:
        await deployer.apply([wanted[n] for n in added])
        await deployer.wait_ready(added, template.base.install.stage_timeout_s)
    if removed:
        await deployer.remove(removed)
    workloads = [w for n, w in current.items() if n not in removed] + [wanted[n] for n in added]
    states.update(deployment=deployment, workloads=workloads)
    return RedeployResult(added=added, removed=removed, deployment=deployment)


async def redeploy_loop(
    interval: float, deployed: Callable[[], bool], once: Callable[[], Awaitable[RedeployResult]]
) -> None:
    """Every ``interval`` seconds while something is deployed; a failed round is logged, the next one runs."""

    async def round_() -> None:
        result = await once()
        if result.added or result.removed:
            log.info("redeployed: +%s -%s", result.added, result.removed)

    await every(
        interval,
        round_,
        what="redeployment",
        log=log,
        skip=lambda: not deployed(),
        failures=Failures(errors=(DayuError,)),
    )
