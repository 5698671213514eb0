"""Monitor settings from ``DAYU_*`` environment variables."""

from __future__ import annotations

from pydantic import Field

from common.config import ServiceSettings


class MonitorSettings(ServiceSettings):
    config: str | None = Field(None, description="Monitor config: YAML/JSON file path or inline JSON.")
