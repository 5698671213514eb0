"""Whether a policy's scheduler agent can run in this install, and why not.

An agent plugin whose optional dependency is missing (``casva`` and ``hei`` need torch, the ``rl`` extra,
which ``dayu.sh start`` does not install) is skipped by the hook registry with the import error. The local
runtime starts the scheduler from the backend's own environment, so a module skipped here is one the
scheduler would refuse at install (``unknown agent hook``): the catalog says so before a user picks the
policy. On a cluster the scheduler's image decides what it can load, so nothing is marked there.
"""

from __future__ import annotations

from backend.install.validate import declare_hooks
from backend.templates import Template
from common.families import AGENT
from common.registry import REGISTRY, skipped_aliases

EXTRA_HINT = "install the `rl` extra (.venv/bin/pip install -e '.[rl]') and restart the platform"


def agent_alias(template: Template, policy_id: str) -> str:
    """The agent the policy's scheduler template names (``fixed`` when it names none)."""
    policy = template.policies[policy_id]
    agent = template.component(policy.scheduler).config.get("agent") or {"alias": "fixed"}
    return str(agent.get("alias", "fixed")) if isinstance(agent, dict) else str(agent)


def skipped_agents() -> dict[str, str]:
    """Alias -> why its module could not be loaded here (a missing optional dependency)."""
    declare_hooks("scheduler")
    return {
        alias: f"agent {alias!r} cannot load here: module {module} needs what this install lacks ({reason}); "
        + EXTRA_HINT
        for module, reason in sorted(REGISTRY.skipped(AGENT).items())
        for alias in skipped_aliases({module: reason})
    }


def unavailable_reason(template: Template, policy_id: str) -> str | None:
    """Why the policy cannot be installed here, None when it can."""
    return skipped_agents().get(agent_alias(template, policy_id))
