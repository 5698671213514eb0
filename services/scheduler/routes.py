"""Scheduler routes: plans, feedback, resource reports, source selection, deployment, stats."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ValidationError

from common.contracts.openapi import body, reply
from common.contracts.scheduler import (
    DeploymentAnswer,
    DeploymentRequest,
    FeedbackAccepted,
    FeedbackBody,
    ReportAccepted,
    ResourceSnapshot,
    SchedulerStats,
    SourcePlacement,
    SourceSelectionRequest,
)
from common.errors import InvalidInput, PayloadTooLarge
from common.plan import PlanRequest, PlanResponse, ResourceReport
from common.task import describe_validation_error
from services.scheduler.core import Scheduler

router = APIRouter()
MAX_BODY = 8 * 1024 * 1024
M = TypeVar("M", bound=BaseModel)


def _scheduler(request: Request) -> Scheduler:
    scheduler: Scheduler = request.app.state.scheduler
    return scheduler


async def _json(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise PayloadTooLarge(f"body of {len(raw)} bytes exceeds the limit of {MAX_BODY} bytes")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"malformed JSON: {exc}") from None


async def _model(request: Request, model: type[M]) -> M:
    """The body as ``model``; any content type, errors as 400 naming the fields."""
    data = await _json(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"malformed {model.__name__}: {describe_validation_error(exc)}") from None


@router.post("/plan", response_model=PlanResponse, openapi_extra=body(PlanRequest))
async def plan(request: Request) -> Response:
    # Asked by every generator every schedule interval: the reply is written once, by pydantic.
    return reply(_scheduler(request).plan(await _model(request, PlanRequest)))


@router.get("/plan/startup")
async def startup_plan(request: Request) -> PlanResponse:
    scheduler = _scheduler(request)
    return PlanResponse(
        plan=scheduler.config.startup,
        deployment=scheduler.deployment,
        deployment_version=scheduler.deployment_version,
    )


@router.post("/feedback", response_model=FeedbackAccepted, openapi_extra=body(FeedbackBody))
async def feedback(request: Request) -> Response:
    """Sent by the distributor for every result and drop record."""
    return reply(_scheduler(request).feedback(await _json(request)))


@router.post("/resources", openapi_extra=body(ResourceReport))
async def post_resources(request: Request) -> ReportAccepted:
    report = await _model(request, ResourceReport)
    _scheduler(request).report(report)
    return ReportAccepted(accepted=report.node)


@router.get("/resources")
async def get_resources(request: Request) -> ResourceSnapshot:
    return ResourceSnapshot(dict(sorted(_scheduler(request).resources.items())))


@router.get("/stats")
async def stats(request: Request) -> SchedulerStats:
    return _scheduler(request).stats()


@router.post("/source-selection", openapi_extra=body(SourceSelectionRequest))
async def source_selection(request: Request) -> SourcePlacement:
    selection = await _model(request, SourceSelectionRequest)
    return SourcePlacement(placement=_scheduler(request).select_sources(selection.sources))


@router.post("/deployment", openapi_extra=body(DeploymentRequest))
async def deployment(request: Request) -> DeploymentAnswer:
    wanted = await _model(request, DeploymentRequest)
    scheduler = _scheduler(request)
    scheduler.set_deployment(scheduler.deployer.deploy(wanted.services, wanted.nodes))
    return DeploymentAnswer(deployment=scheduler.deployment, deployment_version=scheduler.deployment_version)
