"""Backend settings from ``DAYU_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from common.config import ServiceSettings

DASHBOARD_DIR = Path(__file__).resolve().parents[1] / "frontend" / "dist"


class BackendSettings(ServiceSettings):
    """The backend's own settings on top of the shared ones (host, port, token, ...)."""

    port: int = 8900
    template: Path = Field(Path("template"), description="Template directory (base.yaml and catalogs).")
    state_dir: Path = Field(Path(".dayu/backend"), description="SQLite state and system snapshots.")
    run_dir: Path | None = Field(None, description="Local runtime directory; default: the template's local.run_dir.")
    deployer: Literal["template", "local", "kubernetes", "compose"] = Field(
        "template",
        description="Runtime to deploy on; `template`: the template's `runtime`; `compose`: the containers of "
        "docker-compose.yml, found through the topology ($DAYU_TOPOLOGY).",
    )
    datasource_url: str | None = Field(None, description="Base URL of the datasource service.")
    component_token: str | None = Field(
        None,
        description="Token of the runtime components and the datasource, distinct from the API token: the "
        "backend sends it to them and gives it to every workload, and accepts it for reads only. None: the "
        "components share the API token.",
    )
    static_dir: Path = Field(DASHBOARD_DIR, description="Dashboard files served at / (`npm run build` in frontend/).")
    system_interval_s: float = Field(2.0, gt=0, description="How often system figures are sampled while installed.")
    health_interval_s: float = Field(
        2.0, ge=0, description="How often the install state follows the components' health; 0: never."
    )
    max_upload_bytes: int = Field(1024 * 1024, ge=1024, description="Largest accepted YAML upload per file.")
    max_video_bytes: int = Field(
        256 * 1024 * 1024, ge=1024, description="Largest video file `POST /api/datasources/video` accepts."
    )
    max_json_bytes: int = Field(1024 * 1024, ge=1024, description="Body limit of a JSON request.")
