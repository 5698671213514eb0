"""Running the two install stages.

Stage 1 (scheduler, distributor, monitors) -> healthy -> ask the scheduler where sources go and which
services run where -> stage 2 (controllers, processors, generators) -> healthy. The generators come up
closed: opening the datasource starts their reading.
"""

from __future__ import annotations

import secrets
import time

from backend.deploy.base import Deployer, InstanceStatus
from backend.install.resolve import ResolvedInstall
from backend.install.runtime import RuntimeCalls
from backend.install.state import InstallStateMachine
from backend.planner import Planner
from backend.templates import Template
from common.workload import Workload


def make_planner(template: Template, deployer: Deployer, token: str | None) -> Planner:
    return Planner(template, deployer.nodes(), token, container_ports=deployer.kind == "kubernetes")


class StageRunner:
    def __init__(
        self,
        template: Template,
        deployer: Deployer,
        states: InstallStateMachine,
        runtime: RuntimeCalls,
        token: str | None,
    ) -> None:
        self.template = template
        self.deployer = deployer
        self.states = states
        self.runtime = runtime
        self.token = token

    async def run(self, resolved: ResolvedInstall) -> None:
        """Deploy both stages; raises on any failure (the caller removes what was deployed)."""
        timeout = self.template.base.install.stage_timeout_s
        policy = self.template.policies[resolved.policy]
        sources = resolved.sources
        planner = make_planner(self.template, self.deployer, self.token)
        run_id = f"run-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
        self.states.update(run_id=run_id)
        stage1 = planner.stage1(policy, run_id=run_id)
        self.states.progress("stage1", f"deploying {', '.join(w.name for w in stage1)}")
        await self.deployer.apply(stage1)
        await self._wait(stage1, timeout, "stage1")
        placement = await self.runtime.placement(sources)
        deployment = await self.runtime.deployment(sources, planner.cloud())
        urls = {s.entry.id: self.runtime.stream_url(s) for s in sources}
        stage2 = planner.stage2(policy, sources, placement, deployment, urls)
        self.states.progress("stage2", f"deploying {', '.join(w.name for w in stage2)}")
        await self.deployer.apply(stage2)
        await self._wait(stage2, timeout, "stage2")
        self.states.installed(placement=placement, deployment=deployment, workloads=[*stage1, *stage2])
        self.states.progress("done", "installed")

    async def _wait(self, workloads: list[Workload], timeout: float, step: str) -> None:
        def report(statuses: list[InstanceStatus]) -> None:
            ready = sum(1 for s in statuses if s.ready)
            self.states.update(step=step, ready=f"{ready}/{len(workloads)}")

        await self.deployer.wait_ready([w.name for w in workloads], timeout, progress=report)
