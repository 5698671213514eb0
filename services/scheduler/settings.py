"""Scheduler settings from ``DAYU_*`` environment variables."""

from __future__ import annotations

from pydantic import Field

from common.config import ServiceSettings


class SchedulerSettings(ServiceSettings):
    config: str | None = Field(None, description="Scheduler config: YAML/JSON file path or inline JSON.")
