"""``random`` deployment: each service on a seeded random subset of the nodes (the cloud always among them)."""

from __future__ import annotations

import random

from pydantic import Field

from common.registry import HookConfig, hook
from services.scheduler.placement import DEPLOYMENT, Deployment


class RandomDeploymentConfig(HookConfig):
    per_service: int = Field(2, ge=1, le=1000, description="Nodes per service (fewer when fewer exist).")
    cloud: str = Field("cloud", description="Node that always runs every service, so no stage is left without one.")
    seed: int | None = Field(None, description="Seed of the draws.")


@hook(DEPLOYMENT, "random")
class RandomDeployment(Deployment):
    """A random choice of nodes per service, always including the cloud."""

    Config = RandomDeploymentConfig

    def __init__(self, config: HookConfig) -> None:
        super().__init__(config)
        assert isinstance(config, RandomDeploymentConfig)
        self.cfg = config
        self.random = random.Random(config.seed)

    def deploy(self, services: list[str], nodes: list[str]) -> dict[str, list[str]]:
        out = {}
        for service in services:
            others = [n for n in nodes if n != self.cfg.cloud]
            count = min(len(others), self.cfg.per_service - (1 if self.cfg.cloud in nodes else 0))
            chosen = self.random.sample(others, max(0, count))
            out[service] = sorted(([self.cfg.cloud] if self.cfg.cloud in nodes else []) + chosen)
        return out
