"""Pick the deployer the settings or the template ask for."""

from __future__ import annotations

from pathlib import Path

from backend.deploy.base import Deployer
from backend.settings import BackendSettings
from backend.templates import Template


def make_deployer(settings: BackendSettings, template: Template) -> Deployer:
    kind = template.base.runtime if settings.deployer == "template" else settings.deployer
    if kind == "kubernetes":
        from backend.deploy.kubernetes import KubernetesDeployer

        deployer: Deployer = KubernetesDeployer.from_template(template)
        return deployer
    from backend.deploy.local import LocalDeployer

    run_dir = settings.run_dir or Path(template.base.local.run_dir)
    return LocalDeployer(run_dir / "runtime", template.base.local, token=settings.token)
