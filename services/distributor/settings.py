"""Distributor settings from ``DAYU_*`` environment variables."""

from __future__ import annotations

from pydantic import Field

from common.config import ServiceSettings


class DistributorSettings(ServiceSettings):
    config: str | None = Field(None, description="Distributor config: YAML/JSON file path or inline JSON.")
