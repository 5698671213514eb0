"""``POST /label``: the golden labeller as an endpoint of the processor (see :mod:`services.processor.labeller`).

The segment is in the node's work dir, as for ``/process``. The request is refused (503) where the
deployment has not enabled the labeller on this node, and (503 with the seconds to wait) when it comes
sooner than ``labeller.min_period_s`` after the last labelling (this endpoint's or one asked for in-band
by a task's ``meta.extra["label"]``): the labeller's CPU is bounded by its config.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from common.contracts.openapi import raises
from common.errors import InvalidInput, NotFound, Overloaded, Unavailable
from common.golden import Knobs, LabelReport
from common.wire import safe_path
from services.processor.decode import decode_segment
from services.processor.engine import Engine
from services.processor.labeller import detector_of, label

router = APIRouter()


class LabelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file_name: str = Field(min_length=1, description="The golden segment, in this node's work dir.")
    golden: Knobs = Field(description="The configuration the segment was made with; its model labels the frames.")
    candidates: list[Knobs] = Field(min_length=1, description="Configurations to derive from it and score.")


@router.post("/label", responses=raises(NotFound, Unavailable, Overloaded))
async def label_segment(request: Request, body: LabelRequest) -> LabelReport:
    """Score candidate configurations against the golden configuration on one golden segment."""
    engine: Engine = request.app.state.engine
    cfg = engine.config.labeller
    gate = engine.label_gate
    if gate is None:
        node = engine.node
        raise Unavailable(f"the golden labeller is not enabled on node {node!r}", detail={"node": node})
    if not engine.application.needs_frames:
        raise InvalidInput(f"{engine.application.alias} does not read frames: there is nothing to label")
    if len(body.candidates) > cfg.max_candidates:
        raise InvalidInput(
            f"{len(body.candidates)} candidates; at most {cfg.max_candidates} per request",
            detail={"max_candidates": cfg.max_candidates},
        )
    models = engine.application.models
    for knobs in [body.golden, *body.candidates]:
        if knobs.model is not None and models and knobs.model not in models:
            raise InvalidInput(f"{engine.application.alias} has no model {knobs.model!r}; models: {', '.join(models)}")
    path = safe_path(engine.work_dir, body.file_name)
    if not path.is_file():
        raise NotFound(f"segment {path.name!r} is not in this node's work dir", detail={"file": path.name})
    golden = body.golden if body.golden.model else body.golden.model_copy(update={"model": cfg.golden_model})
    wait = gate.wait_s()
    if wait > 0:
        raise Overloaded(
            f"the labeller is busy for {wait:.3g} s more; its period is {gate.period:g} s",
            detail={"retry_after_s": round(wait, 3)},
        )
    detect = detector_of(engine.application)

    def run() -> LabelReport:
        frames = decode_segment(path, max_frames=engine.config.max_frames)
        with engine.model_lock:
            return label(frames, golden, body.candidates, detect, segment_bytes=path.stat().st_size)

    report = await asyncio.to_thread(run)
    gate.record(report)
    return report
