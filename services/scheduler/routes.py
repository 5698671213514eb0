"""Scheduler routes: plans, feedback, resource reports, source selection, deployment, stats."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError

from common.errors import InvalidInput, PayloadTooLarge
from common.plan import PlanRequest, PlanResponse, ResourceReport
from common.task import describe_validation_error
from services.scheduler.core import Scheduler
from services.scheduler.policies import DeploymentRequest, SourceSelectionRequest

router = APIRouter()
MAX_BODY = 8 * 1024 * 1024
M = TypeVar("M", bound=BaseModel)


def _scheduler(request: Request) -> Scheduler:
    scheduler: Scheduler = request.app.state.scheduler
    return scheduler


async def _json(request: Request) -> Any:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(f"body of {len(body)} bytes exceeds the limit of {MAX_BODY} bytes")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise InvalidInput(f"malformed JSON: {exc}") from None


async def _model(request: Request, model: type[M]) -> M:
    """The body as ``model``; any content type, errors as 400 naming the fields."""
    data = await _json(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"malformed {model.__name__}: {describe_validation_error(exc)}") from None


@router.post("/plan")
async def plan(request: Request) -> PlanResponse:
    return _scheduler(request).plan(await _model(request, PlanRequest))


@router.get("/plan/startup")
async def startup_plan(request: Request) -> PlanResponse:
    scheduler = _scheduler(request)
    return PlanResponse(
        plan=scheduler.config.startup,
        deployment=scheduler.deployment,
        deployment_version=scheduler.deployment_version,
    )


@router.post("/feedback")
async def feedback(request: Request) -> dict[str, Any]:
    return _scheduler(request).feedback(await _json(request))


@router.post("/resources")
async def post_resources(request: Request) -> dict[str, str]:
    report = await _model(request, ResourceReport)
    _scheduler(request).report(report)
    return {"accepted": report.node}


@router.get("/resources")
async def get_resources(request: Request) -> dict[str, Any]:
    return {node: r.model_dump(mode="json") for node, r in sorted(_scheduler(request).resources.items())}


@router.get("/stats")
async def stats(request: Request) -> dict[str, Any]:
    return _scheduler(request).stats()


@router.post("/source-selection")
async def source_selection(request: Request) -> dict[str, Any]:
    body = await _model(request, SourceSelectionRequest)
    return {"placement": _scheduler(request).select_sources(body.sources)}


@router.post("/deployment")
async def deployment(request: Request) -> dict[str, Any]:
    body = await _model(request, DeploymentRequest)
    scheduler = _scheduler(request)
    scheduler.set_deployment(scheduler.deployer.deploy(body.services, body.nodes))
    return {"deployment": scheduler.deployment, "deployment_version": scheduler.deployment_version}
