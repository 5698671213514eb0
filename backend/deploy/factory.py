"""Pick the deployer the settings or the template ask for."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

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
    return LocalDeployer(
        run_dir / "runtime",
        template.base.local,
        token=settings.component_token or settings.token,
        host_ports=loopback_ports(settings.datasource_url),
        trace_dir=template.root / "traces",
    )


def loopback_ports(*urls: str | None) -> list[int]:
    """Ports of the URLs that point at this machine's loopback (what namespace nodes must be able to reach)."""
    ports = []
    for url in urls:
        if not url:
            continue
        parts = urlsplit(url)
        if parts.hostname in ("127.0.0.1", "localhost") and parts.port is not None:
            ports.append(parts.port)
    return ports
