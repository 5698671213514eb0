"""Visualization configs per source: uploaded YAML (validated) or the catalog's defaults."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form
from pydantic import BaseModel, ConfigDict, Field

from backend.contracts.views import SourceViews, ViewsUpload
from backend.plane import ControlPlane, Plane
from backend.templates import VisualizationSpec
from common.config import parse_yaml_model
from common.errors import InvalidInput, PayloadTooLarge

router = APIRouter(prefix="/api/visualizations", tags=["visualizations"])
SOURCE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class ViewUpload(BaseModel):
    """The YAML file uploaded as a source's views."""

    model_config = ConfigDict(extra="forbid")

    views: list[VisualizationSpec] = Field(min_length=1, max_length=32, description="Views of the source.")


def views_of(plane: ControlPlane, source_id: str) -> SourceViews:
    stored = plane.store.get_views(source_id)
    if stored is not None:
        return SourceViews(source_id=source_id, custom=True, views=stored)
    return SourceViews(source_id=source_id, custom=False, views=plane.template.result_views)


@router.get("/{source_id}", summary="The views of a source (its own, or the catalog's defaults)")
async def get_views(source_id: str, plane: Plane) -> SourceViews:
    return views_of(plane, source_id)


@router.put("/{source_id}", summary="Upload a source's views as YAML (`views: [...]`), validated")
async def put_views(source_id: str, form: Annotated[ViewsUpload, Form()], plane: Plane) -> SourceViews:
    file = form.file
    if not re.match(SOURCE, source_id) or len(source_id) > 40:
        raise InvalidInput(f"source id {source_id!r} must be lowercase letters, digits and dashes")
    limit = plane.settings.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"larger than {limit} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("not UTF-8 text") from None
    parsed = parse_yaml_model(text, ViewUpload, source=file.filename or "views.yaml")
    ids = [v.id for v in parsed.views]
    if len(set(ids)) != len(ids):
        raise InvalidInput("view ids must be unique")
    plane.store.set_views(source_id, text, [v.model_dump() for v in parsed.views])
    return views_of(plane, source_id)


@router.delete("/{source_id}", summary="Back to the catalog's default views")
async def reset_views(source_id: str, plane: Plane) -> SourceViews:
    plane.store.delete_views(source_id)
    return views_of(plane, source_id)
