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
from common.contracts.datasource import StreamClosed, StreamInfo, StreamOpen
from common.contracts.generator import SourceChanged, SourceOpen
from common.contracts.scheduler import (
    DeploymentAnswer,
    DeploymentRequest,
    SourceCandidates,
    SourcePlacement,
    SourceSelectionRequest,
)
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
        body = SourceSelectionRequest(
            sources=[SourceCandidates(source_id=s.entry.id, candidates=s.attach) for s in sources]
        )
        url = f"{self.url('scheduler')}/source-selection"
        placement = (await self.client.post_model(url, body, SourcePlacement, idempotent=True)).placement
        for s in sources:
            if placement.get(s.entry.id) not in s.attach:
                placement[s.entry.id] = s.attach[0]
        return placement

    async def deployment(self, sources: list[ResolvedSource], cloud: str) -> dict[str, list[str]]:
        """Service -> nodes: the scheduler's answer, completed so that every source can run every stage."""
        nodes = sorted({n for s in sources for n in s.nodes})
        services = services_of(sources)
        body = DeploymentRequest(services=services, nodes=nodes)
        url = f"{self.url('scheduler')}/deployment"
        answer = await self.client.post_model(url, body, DeploymentAnswer, idempotent=True)
        known = set(self.deployer.nodes())
        cleaned = {svc: [n for n in ns if n in known] for svc, ns in answer.deployment.items() if svc in services}
        return complete_deployment(cleaned, sources, cloud)

    # -- open / close ----------------------------------------------------------------------------
    async def open_sources(self, config: DatasourceConfig, placement: dict[str, str], sources: list[str]) -> None:
        """The datasource serves each simulated stream, then its generator starts reading it (an RTSP camera's
        generator is given the URL the datasource reported). A failure closes what this call opened."""
        done: list[str] = []
        try:
            for sid in sources:
                stream = await self._open_stream(config, sid)
                done.append(sid)
                params: dict[str, Any] = {}
                if config.source(sid).mode == "rtsp" and stream is not None:
                    params["url"] = rtsp_url(sid, stream)
                await self._generator(placement, sid, SourceOpen(params=params))
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
            await self._generator(placement, source_id, None)
        except DayuError as exc:
            log.warning("closing the generator of %s failed: %s", source_id, exc.message)
        await self._close_stream(config, source_id)

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

    async def _generator(self, placement: dict[str, str], source_id: str, opening: SourceOpen | None) -> None:
        """``opening``: open with these parameters; None: close."""
        action = "open" if opening is not None else "close"
        url = f"{self.generator_url(placement, source_id)}/source/{action}"
        # Opening may connect to a camera, closing waits for the segments in flight: both take a while.
        await self.client.post_model(url, opening, SourceChanged, idempotent=True, timeout=GENERATOR_TIMEOUT_S)

    def _simulated(self, config: DatasourceConfig, source_id: str) -> str | None:
        """The datasource's URL when ``source_id`` is a camera it simulates; None for a real stream or a file."""
        entry = config.source(source_id)
        if entry.dataset is None or entry.url is not None or entry.mode not in ("http", "rtsp"):
            return None
        if not self.datasource_url:
            raise Unavailable(f"source {source_id!r} needs the datasource service, but its URL is not configured")
        return self.datasource_url.rstrip("/")

    async def _open_stream(self, config: DatasourceConfig, source_id: str) -> StreamInfo | None:
        """The datasource starts serving a simulated camera; its stream, None when there is nothing to open."""
        base = self._simulated(config, source_id)
        if base is None:
            return None
        entry = config.source(source_id)
        body = StreamOpen(dataset=entry.dataset, mode="rtsp" if entry.mode == "rtsp" else "http")
        url = f"{base}/streams/{source_id}/open"
        return await self.client.post_model(url, body, StreamInfo, idempotent=True)

    async def _close_stream(self, config: DatasourceConfig, source_id: str) -> None:
        base = self._simulated(config, source_id)
        if base is None:
            return
        try:
            await self.client.post_model(f"{base}/streams/{source_id}/close", None, StreamClosed, idempotent=True)
        except DayuError as exc:
            log.warning("closing %s at the datasource failed: %s", source_id, exc.message)


def rtsp_url(source_id: str, stream: StreamInfo) -> str:
    url = stream.rtsp_url
    if url is None or not url.startswith(("rtsp://", "rtsps://")):
        raise Unavailable(
            f"the datasource opened {source_id!r} but reported no RTSP URL (rtsp_url: {url!r})",
            detail={"source": source_id},
        )
    return url
