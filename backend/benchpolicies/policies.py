"""Each policy's agent as the template configures it, with the benchmark's SLO, seed and ladders applied."""

from __future__ import annotations

from typing import Any

from backend.install.validate import declare_hooks
from backend.templates import load_template
from common.errors import ConfigError, HookError
from common.families import AGENT
from common.registry import REGISTRY

declare_hooks("scheduler")  # the agents below are looked up by alias

RESOLUTIONS = ["240p", "360p", "480p", "540p", "720p"]
"""The clip is 720p: richer rungs would only resize to the same frames. The learning agents do not need this
ladder (casva chooses positions on a fixed grid and maps them to whatever ladder it is given)."""


def _fields(alias: str) -> dict[str, Any]:
    return dict(REGISTRY.get(AGENT, alias).Config.model_fields)


def _set_slo(params: dict[str, Any], fields: dict[str, Any], slo_s: float) -> None:
    if "slo_s" in fields:
        params["slo_s"] = slo_s
    if "micro" in fields:
        micro = dict(params.get("micro") or {})
        micro["slo_s"] = slo_s
        params["micro"] = micro


def agent_choice(
    template_dir: str, policy: str, *, slo_s: float, seed: int, table: str | None, profile_window_s: float | None = None
) -> dict[str, Any]:
    """``{"alias", "params"}`` of the scheduler agent the policy runs in this benchmark: its template's
    parameters with the benchmark's SLO, seed, resolution ladder, profile table and profiling window."""
    template = load_template(template_dir)
    spec = template.policies.get(policy)
    if spec is None:
        raise ConfigError(f"unknown policy {policy!r}; known: {', '.join(sorted(template.policies))}")
    config = template.component(spec.scheduler).config
    agent = dict(config.get("agent") or {"alias": "fixed"})
    alias = str(agent["alias"])
    params = dict(agent.get("params") or {})
    fields = _fields(alias)
    _set_slo(params, fields, slo_s)
    if "seed" in fields:
        params["seed"] = seed
    if "profile_window_s" in fields and profile_window_s is not None:
        params["profile_window_s"] = profile_window_s
    if "table" in fields and table is not None:
        params["table"] = table
    if "ladders" in fields:
        ladders = dict(params.get("ladders") or {})
        ladders["resolution"] = RESOLUTIONS
        params["ladders"] = ladders
    if "micro" in fields:
        micro = dict(params.get("micro") or {})
        micro.setdefault("ladders", {})["resolution"] = RESOLUTIONS
        params["micro"] = micro
    REGISTRY.make_config(AGENT, alias, params)  # refuse bad parameters before anything starts
    return {"alias": alias, "params": params}


def unavailable(template_dir: str, policy: str) -> str | None:
    """Why the policy's agent cannot run in this install (a plugin whose dependency is missing), else None."""
    template = load_template(template_dir)
    spec = template.policies.get(policy)
    if spec is None:
        return f"unknown policy {policy!r}"
    agent = template.component(spec.scheduler).config.get("agent") or {"alias": "fixed"}
    try:
        REGISTRY.get(AGENT, str(agent["alias"]))
    except HookError as exc:
        return exc.message
    return None
