"""Talking to what runs: the scheduler's placement and deployment answers, generators and the datasource.

Every call here goes to a deployed component (or the datasource service) through the one service client.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from backend.datasource_config import DatasourceConfig
from backend.deploy.base import Deployer
from backend.planner import ResolvedSource, complete_deployment, dns_name, services_of
from common.errors import DayuError, Unavailable
from common.transport import ServiceClient

log = logging.getLogger(__name__)
GENERATOR_TIMEOUT_S = 30.0
"""Bound of one call to a generator's ``/source/open`` or ``/source/close``."""


class RuntimeCalls:
    def __init__(self, deployer: Deployer, client: ServiceClient, datasource_url: str | None) -> None:
        self.deployer = deployer
        self.client = client
        self.datasource_url = datasource_url

    def url(self, component: str) -> str:
        topology = self.deployer.topology()
        if topology is None:
            raise Unavailable("the runtime has no topology yet")
        return topology.component_url(component)

    def stream_url(self, src: ResolvedSource) -> str:
        """Where the generator of ``src`` reads: empty for files, cameras and simulated RTSP cameras (whose URL
        the datasource reports when it opens the stream)."""
        entry = src.entry
        if entry.url:
            return entry.url
        if entry.mode not in ("http", "rtsp"):
            return ""
        if not self.datasource_url:
            raise Unavailable(f"source {entry.id!r} needs the datasource service, but its URL is not configured")
        if entry.mode == "rtsp":
            return ""
        return f"{self.datasource_url.rstrip('/')}/streams/{entry.id}"

    # -- the scheduler ---------------------------------------------------------------------------
    async def placement(self, sources: list[ResolvedSource]) -> dict[str, str]:
        """Source id -> the edge node its generator runs on (the scheduler's answer, kept to the candidates)."""
        body = {"sources": [{"source_id": s.entry.id, "candidates": s.attach} for s in sources]}
        answer = await self.client.post_json(f"{self.url('scheduler')}/source-selection", body, idempotent=True)
        placement = dict(answer.get("placement", {})) if isinstance(answer, dict) else {}
        for s in sources:
            if placement.get(s.entry.id) not in s.attach:
                placement[s.entry.id] = s.attach[0]
        return placement

    async def deployment(self, sources: list[ResolvedSource], cloud: str) -> dict[str, list[str]]:
        """Service -> nodes: the scheduler's answer, completed so that every source can run every stage."""
        nodes = sorted({n for s in sources for n in s.nodes})
        services = services_of(sources)
        body = {"services": services, "nodes": nodes}
        answer = await self.client.post_json(f"{self.url('scheduler')}/deployment", body, idempotent=True)
        raw = answer.get("deployment", {}) if isinstance(answer, dict) else {}
        known = set(self.deployer.nodes())
        cleaned = {svc: [n for n in ns if n in known] for svc, ns in raw.items() if svc in services}
        return complete_deployment(cleaned, sources, cloud)

    # -- open / close ----------------------------------------------------------------------------
    async def open_sources(self, config: DatasourceConfig, placement: dict[str, str], sources: list[str]) -> None:
        """The datasource serves each simulated stream, then its generator starts reading it (an RTSP camera's
        generator is given the URL the datasource reported). A failure closes what this call opened."""
        done: list[str] = []
        try:
            for sid in sources:
                answer = await self._datasource(config, sid, "open")
                done.append(sid)
                params: dict[str, Any] = {}
                if config.source(sid).mode == "rtsp" and answer is not None:
                    params["url"] = rtsp_url(sid, answer)
                await self._generator(placement, sid, "open", {"params": params})
        except DayuError:
            for sid in reversed(done):
                await self._close_source(config, placement, sid)
            raise

    async def close_sources(self, config: DatasourceConfig, placement: dict[str, str], sources: list[str]) -> None:
        """Each generator stops reading (its tasks in flight still end as results or drops), then its stream
        is closed; a component that does not answer is logged and the others are still closed."""
        await asyncio.gather(*(self._close_source(config, placement, sid) for sid in sources))

    async def _close_source(self, config: DatasourceConfig, placement: dict[str, str], source_id: str) -> None:
        try:
            await self._generator(placement, source_id, "close", {})
        except DayuError as exc:
            log.warning("closing the generator of %s failed: %s", source_id, exc.message)
        await self._datasource(config, source_id, "close")

    def generator_url(self, placement: dict[str, str], source_id: str) -> str:
        topology = self.deployer.topology()
        node = placement.get(source_id)
        if topology is None or node is None:
            raise Unavailable(f"the generator of {source_id!r} is not deployed", detail={"source": source_id})
        components = topology.node(node).components
        # The local runtime keys generators by source id, a cluster by the (DNS-safe) workload name.
        for key in (f"generator/{source_id}", f"generator/{dns_name(source_id)}"):
            if key in components:
                return components[key].url
        raise Unavailable(
            f"node {node!r} runs no generator for {source_id!r}", detail={"source": source_id, "node": node}
        )

    async def _generator(self, placement: dict[str, str], source_id: str, action: str, body: dict[str, Any]) -> None:
        url = f"{self.generator_url(placement, source_id)}/source/{action}"
        # Opening may connect to a camera, closing waits for the segments in flight: both take a while.
        await self.client.post_json(url, body, idempotent=True, timeout=GENERATOR_TIMEOUT_S)

    async def _datasource(self, config: DatasourceConfig, source_id: str, action: str) -> dict[str, Any] | None:
        """Open or close a simulated camera; the datasource's answer, None when it was not asked."""
        entry = config.source(source_id)
        if entry.dataset is None or entry.url is not None or entry.mode not in ("http", "rtsp"):
            return None  # a real stream or a file: nothing to switch
        if not self.datasource_url:
            raise Unavailable(f"source {source_id!r} needs the datasource service, but its URL is not configured")
        url = f"{self.datasource_url.rstrip('/')}/streams/{source_id}/{action}"
        body = {"dataset": entry.dataset, "mode": entry.mode} if action == "open" else {}
        try:
            answer = await self.client.post_json(url, body, idempotent=True)
        except DayuError as exc:
            if action == "open":
                raise
            log.warning("closing %s at the datasource failed: %s", source_id, exc.message)
            return None
        return answer if isinstance(answer, dict) else {}


def rtsp_url(source_id: str, answer: dict[str, Any]) -> str:
    url = answer.get("rtsp_url")
    if not isinstance(url, str) or not url.startswith(("rtsp://", "rtsps://")):
        raise Unavailable(
            f"the datasource opened {source_id!r} but reported no RTSP URL (rtsp_url: {url!r})",
            detail={"source": source_id},
        )
    return url
