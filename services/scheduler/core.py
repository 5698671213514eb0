"""The scheduler's state: one agent per source (started on first contact), reports, deployment, stats."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from common.contracts.scheduler import DecisionSummary, FeedbackAccepted, HistorySummary, SchedulerStats
from common.errors import InvalidInput, Overloaded
from common.feedback import FEEDBACK, DropFeedback, TaskFeedback, drop_feedback, task_feedback
from common.metrics import ServiceMetrics
from common.plan import PlanRequest, PlanResponse, ResourceReport
from common.records import DropRecord
from common.registry import REGISTRY
from common.task import SENTINELS, Task, describe_validation_error
from common.topology import Topology
from services.scheduler.agent import FAMILY as AGENT
from services.scheduler.agent import Agent, AgentContext
from services.scheduler.config import SchedulerConfig
from services.scheduler.decisions import DecisionTimes
from services.scheduler.history import SourceHistory
from services.scheduler.placement import (
    DEPLOYMENT,
    REDEPLOYMENT,
    SOURCE_SELECTION,
    ClusterView,
    Deployment,
    Redeployment,
    SourceCandidates,
    SourceSelection,
)


def validate_hooks(config: SchedulerConfig) -> None:
    """Fail at startup, naming the known aliases, when the config picks an unknown hook or bad params."""
    REGISTRY.make_config(AGENT, config.agent.alias, config.agent.params)
    REGISTRY.make_config(SOURCE_SELECTION, config.source_selection.alias, config.source_selection.params)
    REGISTRY.make_config(DEPLOYMENT, config.deployment.alias, config.deployment.params)
    REGISTRY.make_config(REDEPLOYMENT, config.redeployment.alias, config.redeployment.params)


class Scheduler:
    def __init__(
        self,
        config: SchedulerConfig,
        topology: Topology | None,
        metrics: ServiceMetrics,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` paces redeployment (``redeploy_interval_s``); tests pass one they move by hand."""
        validate_hooks(config)
        self.clock = clock
        self.config = config
        self.topology = topology
        self.cloud = config.cloud_node or (topology.cloud() if topology is not None else "cloud")
        self.agents: dict[str, Agent] = {}
        self.resources: dict[str, ResourceReport] = {}
        self.decisions = DecisionTimes(config.decision_window, metrics)
        self.selection: SourceSelection = REGISTRY.create(
            SOURCE_SELECTION, config.source_selection.alias, config.source_selection.params
        )
        self.deployer: Deployment = REGISTRY.create(DEPLOYMENT, config.deployment.alias, config.deployment.params)
        self.redeployer: Redeployment = REGISTRY.create(
            REDEPLOYMENT, config.redeployment.alias, config.redeployment.params
        )
        self.deployment: dict[str, list[str]] = {}
        self.nodes: list[str] = []
        self.redeployed_at = clock()
        self.deployment_version = 0
        self.feedback_counts = {"tasks": 0, "drops": 0, "agents_rebuilt": 0}
        self._plans = metrics.counter("scheduler_plans_total", "Plans served")

    def agent_for(self, source_id: str) -> Agent:
        agent = self.agents.get(source_id)
        if agent is None:
            if len(self.agents) >= self.config.max_sources:
                raise Overloaded(f"the scheduler serves {self.config.max_sources} sources at most")
            context = AgentContext(
                source_id=source_id,
                cloud=self.cloud,
                startup=self.config.startup,
                topology=self.topology,
                resources=self.resources,
                history=SourceHistory(self.config.history),
            )
            agent = REGISTRY.create(AGENT, self.config.agent.alias, self.config.agent.params, context=context)
            self.agents[source_id] = agent
        return agent

    def plan(self, request: PlanRequest) -> PlanResponse:
        agent = self.agent_for(request.source_id)
        started = time.perf_counter()
        plan = agent.decide(request)
        elapsed = time.perf_counter() - started
        self.decisions.record(elapsed)
        self._plans.inc()
        if not self.deployment:
            services = sorted({s.service for name, s in request.dag.items() if name not in SENTINELS})
            self.nodes = sorted({self.cloud, request.source_node, *request.edge_nodes})
            self.set_deployment(self.deployer.deploy(services, self.nodes))
        else:
            self.maybe_redeploy()
        return PlanResponse(
            plan=plan,
            deployment=self.deployment,
            deployment_version=self.deployment_version,
            decision_ms=elapsed * 1000.0,
        )

    def maybe_redeploy(self) -> None:
        interval = self.config.redeploy_interval_s
        if interval <= 0 or self.clock() - self.redeployed_at < interval:
            return
        self.redeployed_at = self.clock()
        view = ClusterView(
            services=sorted(self.deployment),
            nodes=self.nodes or sorted({n for nodes in self.deployment.values() for n in nodes}),
            cloud=self.cloud,
            resources=self.resources,
            service_ms=self.service_ms(),
        )
        self.set_deployment(self.redeployer.redeploy(dict(self.deployment), view))

    def service_ms(self) -> dict[str, float]:
        """Mean measured model time per frame of each service, over every source's recent feedback."""
        times: dict[str, list[float]] = {}
        for agent in self.agents.values():
            for fb in agent.context.history.recent(64):
                for stage in fb.stages:
                    if stage.service_time is not None:
                        times.setdefault(stage.service, []).append(stage.service_time * 1000 / max(1, fb.frames))
        return {service: sum(v) / len(v) for service, v in times.items()}

    def set_deployment(self, deployment: dict[str, list[str]]) -> None:
        if deployment != self.deployment:
            self.deployment = deployment
            self.deployment_version += 1

    def feedback(self, body: Any) -> FeedbackAccepted:
        """One task's feedback (:mod:`common.feedback`), or, as older senders post, a task or drop record.

        Feedback of a source without an agent (the scheduler restarted while it ran) creates the agent,
        so the policy picks up where the source is instead of ignoring it.
        """
        item = parse_feedback(body)
        agent = self.agents.get(item.source_id)
        if agent is None:
            agent = self.agent_for(item.source_id)
            self.feedback_counts["agents_rebuilt"] += 1
        agent.context.history.add(item)
        self.feedback_counts["tasks" if isinstance(item, TaskFeedback) else "drops"] += 1
        agent.on_feedback(item)
        return FeedbackAccepted(accepted=item.source_id, kind=item.kind)

    def report(self, report: ResourceReport) -> None:
        self.resources[report.node] = report

    def select_sources(self, sources: list[SourceCandidates]) -> dict[str, str]:
        return self.selection.select(sources)

    def stats(self) -> SchedulerStats:
        agents = sorted(self.agents.items())
        return SchedulerStats(
            decision_ms=DecisionSummary.model_validate(self.decisions.summary()),
            plans_served=self.decisions.count,
            agents={source: agent.alias for source, agent in agents},
            history={
                source: HistorySummary.model_validate(agent.context.history.summary()) for source, agent in agents
            },
            agent_info={source: info for source, agent in agents if (info := agent.info())},
            feedback=dict(self.feedback_counts),
            nodes_reporting=sorted(self.resources),
            deployment_version=self.deployment_version,
        )


def parse_feedback(body: Any) -> TaskFeedback | DropFeedback:
    if not isinstance(body, dict):
        raise InvalidInput("feedback must be a JSON object: task feedback, a task or a drop record")
    if "kind" in body:
        try:
            return FEEDBACK.validate_python(body)
        except ValidationError as exc:
            raise InvalidInput(f"malformed feedback: {describe_validation_error(exc)}") from None
    kind = "drop record" if "reason" in body else "task"
    try:
        if "reason" in body:
            return drop_feedback(DropRecord.model_validate(body))
        return task_feedback(Task.model_validate(body))
    except ValidationError as exc:
        raise InvalidInput(f"malformed {kind}: {describe_validation_error(exc)}") from None
