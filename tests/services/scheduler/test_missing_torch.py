"""Without torch only the learning agents are disabled, each with a reason naming the missing module."""

from __future__ import annotations

import importlib
import sys

import pytest

from common.errors import HookError
from common.registry import REGISTRY, HookRegistry

pytestmark = pytest.mark.unit
LEARNING = ["services.scheduler.agents.casva", "services.scheduler.agents.hei", "services.scheduler.learning.sac"]


def test_a_missing_torch_disables_casva_and_hei_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LEARNING:
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError, as when it is not installed
    registry = HookRegistry()
    monkeypatch.setattr("common.registry.REGISTRY", registry)
    registry.declare_modules("agent", [*LEARNING[:2], "services.scheduler.agents.fc"])
    importlib.reload(importlib.import_module("services.scheduler.agents.fc"))
    skipped = registry.skipped("agent")
    assert set(skipped) == set(LEARNING[:2]) and all("torch" in why for why in skipped.values())
    aliases = registry.aliases("agent")
    assert "fc" in aliases and "casva" not in aliases and "hei" not in aliases
    with pytest.raises(HookError, match=r"casva.*skipped.*torch"):
        registry.get("agent", "casva")
    assert REGISTRY is not registry
