"""The scheduler's replies parse into the contracts its callers use (``common.contracts.scheduler``,
``common.plan``), through the typed helpers of the inter-service client, against a real server."""

from __future__ import annotations

import pytest

from common.contracts.scheduler import (
    DeploymentAnswer,
    DeploymentRequest,
    FeedbackAccepted,
    ReportAccepted,
    ResourceSnapshot,
    SchedulerStats,
    SourceCandidates,
    SourcePlacement,
    SourceSelectionRequest,
)
from common.feedback import drop_feedback
from common.plan import PlanRequest, PlanResponse, ResourceReport
from common.records import DropReason, DropRecord
from common.transport import ServiceClient
from tests.services.scheduler.test_app import plan_request, start

pytestmark = pytest.mark.integration


async def test_every_scheduler_reply_parses_into_its_contract() -> None:
    with start({"agent": {"alias": "fixed"}}) as url:
        async with ServiceClient(retries=0) as client:
            plan = await client.post_model(f"{url}/plan", PlanRequest.model_validate(plan_request()), PlanResponse)
            assert plan.deployment and plan.decision_ms is not None
            startup = await client.get_model(f"{url}/plan/startup", PlanResponse)
            assert startup.deployment_version == plan.deployment_version

            report = ResourceReport(node="edge1", at=1.0, cpu=0.5, queue_lengths={"detect": 2})
            assert await client.post_model(f"{url}/resources", report, ReportAccepted) == ReportAccepted(
                accepted="edge1"
            )
            snapshot = await client.get_model(f"{url}/resources", ResourceSnapshot)
            assert snapshot.root["edge1"] == report

            drop = DropRecord(source_id="cam1", task_id=1, task_uuid="u", root_uuid="u", reason=DropReason.TIMEOUT)
            accepted = await client.post_model(f"{url}/feedback", drop_feedback(drop), FeedbackAccepted)
            assert accepted == FeedbackAccepted(accepted="cam1", kind="drop")

            stats = await client.get_model(f"{url}/stats", SchedulerStats)
            assert stats.plans_served == 1 and stats.feedback["drops"] == 1 and stats.nodes_reporting == ["edge1"]
            assert stats.decision_ms.count == 1 and stats.decision_ms.p50 is not None
            assert stats.history["cam1"].drops == 1

            selection = SourceSelectionRequest(sources=[SourceCandidates(source_id="cam1", candidates=["edge2"])])
            placed = await client.post_model(f"{url}/source-selection", selection, SourcePlacement)
            assert placed.placement == {"cam1": "edge2"}

            wanted = DeploymentRequest(services=["detect"], nodes=["cloud", "edge1"])
            deployed = await client.post_model(f"{url}/deployment", wanted, DeploymentAnswer)
            assert set(deployed.deployment) == {"detect"} and deployed.deployment_version >= 1
