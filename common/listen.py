"""Where a component listens: its TCP address always, and a Unix domain socket beside it when given one.

The local runtime gives each data-plane component a socket (``DAYU_UDS``) and writes it into the topology;
callers on the same node reach the component through it (``common.topology``), which spares both sides the
loopback TCP stack on every call. The TCP address stays: other nodes, health checks, ``/metrics`` and
Kubernetes or compose deployments (which give no socket) use it. One uvicorn server answers on both.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import socket
import stat
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.config import ServiceSettings
from common.errors import ConfigError

MAX_SOCKET_PATH = 107
"""The longest path a Unix socket may be bound to on Linux (``sun_path`` holds 108 bytes with its NUL)."""


class ListenSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DAYU_", extra="ignore")

    uds: Path | None = Field(
        None, description="Unix domain socket to listen on beside the TCP address; none = TCP only."
    )


def _counting(base: type[asyncio.Protocol], count: Any) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, counting each connection by the listener it came through."""

    class Counting(base):  # type: ignore[valid-type,misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            count.labels("unix" if sock is not None and sock.family == socket.AF_UNIX else "tcp").inc()
            super().connection_made(transport)

    return Counting


def bind_unix(path: Path) -> socket.socket:
    """A listening-ready socket at ``path``, readable and writable by this user only; a stale socket file
    left by an earlier process is replaced, anything else at ``path`` is refused."""
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise ConfigError(f"socket path {str(path)!r} is longer than {MAX_SOCKET_PATH} bytes")
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise ConfigError(f"{str(path)!r} exists and is not a socket: refusing to replace it")
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        os.chmod(path, 0o600)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run ``app`` with uvicorn on the settings' address (and ``DAYU_UDS`` when set): uvloop and httptools
    when installed, no access log (one log line per request costs more than a small request itself;
    ``/metrics`` counts the requests, and the connections by listener)."""
    uds = ListenSettings().uds
    httptools = importlib.util.find_spec("httptools") is not None
    if httptools:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as protocol
    else:
        from uvicorn.protocols.http.h11_impl import H11Protocol as protocol  # type: ignore[assignment]
    connections = app.state.metrics.counter("connections_total", "Connections accepted, by listener", ["listener"])
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http=_counting(protocol, connections),
    )
    # uvicorn's own binding: a port in use is logged in its words, which the local runtime looks for.
    sockets = [config.bind_socket()]
    if uds is not None:
        sockets.append(bind_unix(uds))
    _Server(config, uds).run(sockets=sockets)


class _Server(uvicorn.Server):
    """Removes its socket file as it shuts down: uvicorn ends the process with the signal that stopped it,
    so nothing after :meth:`run` would get to."""

    def __init__(self, config: uvicorn.Config, uds: Path | None) -> None:
        super().__init__(config)
        self.uds = uds
        self.inode = uds.stat().st_ino if uds is not None else None

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets=sockets)
        # Only the socket this process bound: a successor may have bound the path again meanwhile.
        if self.uds is not None:
            with contextlib.suppress(OSError):
                if self.uds.stat().st_ino == self.inode:
                    self.uds.unlink()
