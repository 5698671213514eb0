"""Every component config of an install, checked against the component's config model before anything runs.

The component models (and through them every hook choice: alias and parameters, see
:class:`common.registry.HookFamily`) are the components' own: a config the backend accepts here is one the
component accepts at start. A bad value is refused with a 400 naming the template file, line, field and value.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel

from backend.planner import Planner, ResolvedSource, services_of
from backend.templates import ComponentTemplate, Template
from common.config import parse_model
from common.registry import skipped_modules_unchecked
from common.topology import NodeSpec

CONFIG_MODELS: dict[str, str] = {
    "generator": "services.generator.config:GeneratorConfig",
    "controller": "services.controller.config:ControllerConfig",
    "processor": "services.processor.config:ProcessorConfig",
    "distributor": "services.distributor.config:DistributorConfig",
    "scheduler": "services.scheduler.config:SchedulerConfig",
    "monitor": "services.monitor.config:MonitorConfig",
}
"""Component -> its config model (``DAYU_CONFIG``)."""


def config_model(component: str) -> type[BaseModel]:
    module, name = CONFIG_MODELS[component].split(":")
    model: type[BaseModel] = getattr(importlib.import_module(module), name)
    return model


def declare_hooks(component: str) -> None:
    """Declare the component's hook families and their plugin modules (its config model imports them), so
    that the backend looks a plugin up by alias as the component will."""
    config_model(component)


def check_config(comp: ComponentTemplate, config: dict[str, Any]) -> None:
    """Raise ConfigError (400) naming ``comp``'s file and line when ``config`` does not fit its component."""
    # A plugin whose optional dependency this host lacks (torch, tensorrt) is checked by the component itself.
    with skipped_modules_unchecked():
        parse_model(config, config_model(comp.component), source=comp.source or comp.image, lines=comp.config_lines)


def validate_install(template: Template, policy_id: str, sources: list[ResolvedSource]) -> None:
    """The configs the install would give its components, as far as they are known before it starts (stream
    URLs, placement and deployment come later and are the backend's own)."""
    policy = template.policies[policy_id]
    planner = Planner(template, {"cloud": NodeSpec(role="cloud")}, None)
    check_config(template.component(policy.scheduler), planner.scheduler_config(policy))
    for component in ("distributor", "controller", "monitor"):
        comp = template.component(getattr(policy, component))
        check_config(comp, dict(comp.config))
    for service in services_of(sources):
        comp = template.component(template.services[service].template)
        check_config(comp, {**comp.config, "service": service})
    generator = template.component(policy.generator)
    for src in sources:
        check_config(generator, {**generator.config, **planner.generator_config(src, {}, "")})
