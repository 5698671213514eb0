"""Pick the deployer the settings or the template ask for."""

from __future__ import annotations

from pathlib import Path

from backend.deploy.base import Deployer
from backend.settings import BackendSettings
from backend.templates import Template
from common.errors import ConfigError


def make_deployer(settings: BackendSettings, template: Template) -> Deployer:
    kind = template.base.runtime if settings.deployer == "template" else settings.deployer
    if kind == "compose":
        from backend.deploy.compose import ComposeDeployer
        from common.topology import StaticTopology

        if not settings.topology:
            raise ConfigError("DAYU_DEPLOYER=compose needs DAYU_TOPOLOGY (the compose stack's topology)")
        return ComposeDeployer(StaticTopology.from_text(settings.topology, source="$DAYU_TOPOLOGY"))
    if kind == "kubernetes":
        from backend.deploy.kubernetes import KubernetesDeployer

        deployer: Deployer = KubernetesDeployer.from_template(template)
        return deployer
    from backend.deploy.local import LocalDeployer

    run_dir = settings.run_dir or Path(template.base.local.run_dir)
    return LocalDeployer(run_dir / "runtime", template.base.local, token=settings.token)
