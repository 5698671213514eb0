"""Pick the deployer the settings or the template ask for."""

from __future__ import annotations

from pathlib import Path

from backend.deploy.base import Deployer
from backend.settings import BackendSettings
from backend.templates import Template
from common.errors import Unavailable


def make_deployer(settings: BackendSettings, template: Template) -> Deployer:
    kind = template.base.runtime if settings.deployer == "template" else settings.deployer
    if kind == "kubernetes":
        raise Unavailable("the kubernetes deployer is not part of this build yet; use `runtime: local`")
    from backend.deploy.local import LocalDeployer

    run_dir = settings.run_dir or Path(template.base.local.run_dir)
    return LocalDeployer(run_dir / "runtime", template.base.local, token=settings.token)
