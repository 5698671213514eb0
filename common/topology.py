"""Who is where: the nodes, the components each one runs, where they listen, and the links between them.

:class:`Topology` is the interface every component uses. :class:`StaticTopology` reads a YAML/JSON
file (or an inline JSON document in an environment variable) written by the local runtime, and
:class:`WatchedTopology` follows such a file as it changes; a
Kubernetes implementation fills the same interface from node and service labels.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from common.config import load_yaml_model, parse_model
from common.errors import ConfigError, NotFound
from common.shaping import FileLedger, Ledger, LinkSpec, MemoryLedger, TrafficShaper
from common.trace import TraceMode, load_trace, resolve_trace

TOPOLOGY_ENV = "DAYU_TOPOLOGY"
NODE_ENV = "DAYU_NODE"
"""The node the calling process runs on (set by every runtime); components of that node are reached through
their sockets when the topology gives them one."""
UNIX_SCHEME = "http+unix"

log = logging.getLogger(__name__)


class Endpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Address the component listens on.")
    port: int = Field(ge=1, le=65535)
    socket: str | None = Field(
        None,
        description="Unix domain socket the component also listens on (local runtime); callers on its node "
        "use it instead of TCP. None: TCP only.",
    )

    @property
    def url(self) -> str:
        """The TCP address: what other nodes, health checks and ``/metrics`` use."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def url_from(self, here: bool) -> str:
        """The URL a caller uses: the socket for a caller on the component's node when there is one."""
        return unix_url(self.socket) if here and self.socket else self.url


@functools.lru_cache(maxsize=256)  # a node has a handful of sockets, and each call to a processor asks
def unix_url(path: str) -> str:
    """``http+unix://`` and the socket path, %-encoded as one host name (what ``common.transport`` sends to)."""
    return f"{UNIX_SCHEME}://{quote(path, safe='')}"


class NodeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["cloud", "edge"]
    arch: str = Field("amd64", description="CPU architecture of the node.")
    components: dict[str, Endpoint] = Field(
        default_factory=dict, description="controller, monitor, distributor, scheduler, generator/<source> ..."
    )
    processors: dict[str, Endpoint] = Field(default_factory=dict, description="Service id -> processor endpoint.")
    work_dir: str | None = Field(None, description="The node's shared work directory (local runtime).")
    labels: dict[str, str] = Field(default_factory=dict)


class LinkModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    a: str
    b: str
    bandwidth_mbps: float | None = Field(None, gt=0, description="Link bandwidth; none = unshaped.")
    latency_ms: float = Field(0.0, ge=0)
    trace: str | None = Field(
        None, description="Bandwidth trace the link follows: a name in template/traces/ or a CSV file path."
    )
    trace_mode: TraceMode = Field("loop", description="At the trace's end: start again (loop) or keep its last value.")
    trace_start: float | None = Field(
        None, description="Wall-clock time (epoch s) its replay started; set by the runtime at install."
    )
    trace_held: bool = Field(
        False,
        description="The replay waits for the runtime to start it (the link holds the trace's first row until then).",
    )

    @field_validator("trace")
    @classmethod
    def _trace_exists(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                resolve_trace(value)
            except ConfigError as exc:  # as a validation error, so the message gets the file and line
                raise ValueError(exc.message) from None
        return value

    def spec(self) -> LinkSpec:
        """The link as the shaper sees it (its trace loaded)."""
        trace = load_trace(self.trace, mode=self.trace_mode) if self.trace else None
        return LinkSpec(
            bandwidth_mbps=self.bandwidth_mbps,
            latency_ms=self.latency_ms,
            trace=trace,
            trace_start=self.trace_start,
            held=self.trace_held and trace is not None,
        )


LinkMode = Literal["process", "netns"]


class TopologyModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nodes: dict[str, NodeSpec] = Field(min_length=1)
    links: list[LinkModel] = Field(default_factory=list)
    link_mode: LinkMode = Field(
        "process",
        description="process: senders delay transfers themselves; netns: the kernel shapes the rate (tc), "
        "senders add only the delay.",
    )
    link_state_dir: str | None = Field(
        None, description="Folder of the link bookings every process shares (process mode); none: per process."
    )

    @model_validator(mode="after")
    def _check(self) -> TopologyModel:
        clouds = [n for n, spec in self.nodes.items() if spec.role == "cloud"]
        if len(clouds) != 1:
            raise ValueError(f"exactly one cloud node is required, found {len(clouds)}: {clouds}")
        seen: set[frozenset[str]] = set()
        for link in self.links:
            for end in (link.a, link.b):
                if end not in self.nodes:
                    raise ValueError(f"link {link.a}-{link.b} names unknown node {end!r}")
            if link.a == link.b:
                raise ValueError(f"link {link.a}-{link.b} joins a node to itself")
            pair = frozenset((link.a, link.b))
            if pair in seen:
                raise ValueError(f"link {link.a}-{link.b} is given twice")
            seen.add(pair)
        return self


class Topology(ABC):
    here: str | None = os.environ.get(NODE_ENV) or None
    """This process's node (``$DAYU_NODE``; None outside a node): calls to components there may use sockets."""

    @abstractmethod
    def nodes(self) -> dict[str, NodeSpec]: ...

    @abstractmethod
    def links(self) -> list[LinkModel]: ...

    def node(self, name: str) -> NodeSpec:
        nodes = self.nodes()
        if name not in nodes:
            raise NotFound(f"unknown node {name!r}; known: {', '.join(sorted(nodes))}", detail={"node": name})
        return nodes[name]

    def cloud(self) -> str:
        for name, spec in self.nodes().items():
            if spec.role == "cloud":
                return name
        raise NotFound("the topology has no cloud node")

    def edges(self) -> list[str]:
        return sorted(name for name, spec in self.nodes().items() if spec.role == "edge")

    def component_url(self, component: str, node: str | None = None) -> str:
        """URL of ``component`` on ``node`` (default: the cloud node)."""
        name = node or self.cloud()
        spec = self.node(name)
        if component not in spec.components:
            raise NotFound(f"node {name!r} runs no {component}", detail={"node": name, "component": component})
        return spec.components[component].url_from(name == self.here)

    def processor_url(self, service: str, node: str) -> str:
        spec = self.node(node)
        if service not in spec.processors:
            raise NotFound(
                f"node {node!r} runs no processor for {service!r}", detail={"node": node, "service": service}
            )
        return spec.processors[service].url_from(node == self.here)

    def has_processor(self, service: str, node: str) -> bool:
        spec = self.nodes().get(node)
        return spec is not None and service in spec.processors

    def nodes_with(self, service: str) -> list[str]:
        return sorted(name for name, spec in self.nodes().items() if service in spec.processors)

    def link_to(self, src: str, dst: str) -> LinkSpec | None:
        if src == dst:
            return None
        for link in self.links():
            if {link.a, link.b} == {src, dst}:
                return link.spec()
        return None

    def links_from(self, src: str) -> dict[str, LinkSpec]:
        """Links from ``src`` to each other node that has one, for a :class:`TrafficShaper`."""
        out = {}
        for other in self.nodes():
            spec = self.link_to(src, other)
            if spec is not None:
                out[other] = spec
        return out

    def link_mode(self) -> LinkMode:
        return "process"

    def link_state_dir(self) -> str | None:
        return None

    def shaper(self, node: str) -> TrafficShaper | None:
        """The shaper a process on ``node`` sends through (None when no link of ``node`` needs one).

        In process mode it shapes rate and delay, its bookings shared through the topology's
        ``link_state_dir``; in netns mode the kernel shapes the rate and the shaper adds only the delay.
        The shaper reads the links again when the topology changes (a trace the runtime starts later).
        """
        if not self._shaped_links(node):
            return None
        state = self.link_state_dir()
        ledger: Ledger = FileLedger(state) if state else MemoryLedger()
        cache: dict[str, object] = {}

        def current() -> dict[str, LinkSpec]:
            models = self.links()
            if cache.get("models") is not models:  # a topology re-read hands out a new list
                cache["models"], cache["specs"] = models, self._shaped_links(node)
            specs = cache["specs"]
            assert isinstance(specs, dict)
            return specs

        return TrafficShaper(current, source=node, ledger=ledger)

    def _shaped_links(self, node: str) -> dict[str, LinkSpec]:
        links = self.links_from(node)
        if self.link_mode() == "netns":
            links = {dst: spec.without_bandwidth() for dst, spec in links.items()}
        return {dst: spec for dst, spec in links.items() if spec.shaped or spec.latency_ms or spec.trace is not None}


class StaticTopology(Topology):
    def __init__(self, model: TopologyModel) -> None:
        self.model = model

    def nodes(self) -> dict[str, NodeSpec]:
        return self.model.nodes

    def links(self) -> list[LinkModel]:
        return self.model.links

    def link_mode(self) -> LinkMode:
        return self.model.link_mode

    def link_state_dir(self) -> str | None:
        return self.model.link_state_dir

    @classmethod
    def from_file(cls, path: str | Path) -> StaticTopology:
        return cls(load_yaml_model(Path(path), TopologyModel))

    @classmethod
    def from_text(cls, value: str, *, source: str = "topology") -> StaticTopology:
        """A file path, or the topology itself as inline JSON (it starts with ``{``)."""
        value = value.strip()
        if not value:
            raise ConfigError(f"{source} is empty: it must name a topology file or hold its JSON")
        if value.startswith("{"):
            try:
                data = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{source} holds invalid JSON: {exc}", detail={"file": source}) from None
            return cls(parse_model(data, TopologyModel, source=source))
        return WatchedTopology(value)

    @classmethod
    def from_env(cls, var: str = TOPOLOGY_ENV) -> StaticTopology:
        """``$DAYU_TOPOLOGY`` holds either a file path or an inline JSON document."""
        value = os.environ.get(var, "").strip()
        if not value:
            raise ConfigError(f"${var} is not set: it must name a topology file or hold its JSON")
        return cls.from_text(value, source=f"${var}")

    def dump(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.model.model_dump_json(indent=2))
        os.replace(tmp, path)


FileStamp = tuple[int, int, int]


def file_stamp(path: Path) -> FileStamp | None:
    """What tells one version of a file from the next (inode, size, mtime), or None when it cannot be read.

    The runtime writes a topology by replacing the file whole, so a new version has a new inode even where
    the clock's granularity would give both versions the same mtime."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


class TopologyFile:
    """A topology file read on demand, parsed again only when it was replaced or changed.

    For a reader that asks on every request (the backend looks a component's URL up for each call it
    proxies): parsing the YAML each time cost CPU and churned the allocator. The writer replaces the
    file whole (:meth:`StaticTopology.dump`), so its inode, size or mtime tells a new version; a file
    that is gone gives None.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._parsed: tuple[FileStamp, StaticTopology] | None = None

    def read(self) -> StaticTopology | None:
        stamp = file_stamp(self.path)
        if stamp is None:
            self._parsed = None
            return None
        if self._parsed is None or self._parsed[0] != stamp:
            self._parsed = (stamp, StaticTopology.from_file(self.path))
        return self._parsed[1]


class WatchedTopology(StaticTopology):
    """A topology file that is read again when it changes.

    The local runtime rewrites the file when it adds or removes components (the second install stage,
    a processor on redeployment); running components then see the new endpoints
    without a restart. The file's stamp (:func:`file_stamp`) is checked at most every ``check_every`` seconds; a file
    that cannot be read or parsed keeps the last good topology in force.
    """

    def __init__(self, path: str | Path, *, check_every: float = 0.5) -> None:
        self.path = Path(path)
        self.check_every = check_every
        self._stamp = file_stamp(self.path)
        super().__init__(load_yaml_model(self.path, TopologyModel))
        self._checked = time.monotonic()

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < self.check_every:
            return
        self._checked = now
        stamp = file_stamp(self.path)
        if stamp is None or stamp == self._stamp:
            return
        try:
            self.model = load_yaml_model(self.path, TopologyModel)
        except ConfigError as exc:
            log.warning("topology %s changed but cannot be used, keeping the last one: %s", self.path, exc)
        self._stamp = stamp

    def nodes(self) -> dict[str, NodeSpec]:
        self._refresh()
        return self.model.nodes

    def links(self) -> list[LinkModel]:
        self._refresh()
        return self.model.links
