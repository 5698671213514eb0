"""The latency table of the profiling policies: milliseconds per frame per (service, node, resolution).

``dayuctl profile`` measures it and writes it as JSON; ``offline-profiling`` reads it; ``online-profiling``
builds the same table from feedback while running.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from common.errors import ConfigError


class ProfileRow(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    service: str = Field(min_length=1)
    node: str = Field(min_length=1)
    resolution: str = Field(min_length=1)
    ms_per_frame: float = Field(ge=0, description="Model time per frame, milliseconds (median of the runs).")
    memory_mb: float | None = Field(None, ge=0, description="Resident memory the loaded model added, MiB.")


class ProfileTable(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    measured_at: float | None = Field(None, description="Wall clock of the measurement.")
    host: str | None = Field(None, description="Machine the figures were measured on.")
    note: str = Field("", description="How the figures were measured.")
    rows: list[ProfileRow] = Field(default_factory=list, max_length=100_000)

    def lookup(self, service: str, node: str, resolution: str) -> float | None:
        """ms per frame of the exact entry; else the service at that resolution on any node (mean)."""
        same = [r.ms_per_frame for r in self.rows if r.service == service and r.resolution == resolution]
        exact = [r.ms_per_frame for r in self.rows if (r.service, r.node, r.resolution) == (service, node, resolution)]
        if exact:
            return exact[0]
        return sum(same) / len(same) if same else None


def load_table(path: str | Path) -> ProfileTable:
    path = Path(path)
    try:
        return ProfileTable.model_validate(json.loads(path.read_text()))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the profile table ({exc.strerror}); run `dayuctl profile`") from None
    except (ValueError, ValidationError) as exc:
        raise ConfigError(f"{path}: not a profile table: {str(exc)[:300]}") from None


def save_table(table: ProfileTable, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(table.model_dump_json(indent=1))
    return path
