"""The base of every contract model."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    """A request or reply between components: unknown fields are refused, on either side."""

    model_config = ConfigDict(extra="forbid")
