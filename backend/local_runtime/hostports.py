"""Host ports inside node namespaces: ``127.0.0.1:PORT`` in each node reaches ``127.0.0.1:PORT`` of the host.

In namespace mode a node's loopback is its own, so a service of the machine that listens on loopback
only (the datasource) is out of the nodes' reach. ``python -m backend.local_runtime.hostports NETNS,... PORT,...``
opens a listening socket on ``127.0.0.1:PORT`` inside each named namespace (a short-lived thread enters
the namespace with ``setns`` just to create it; a socket stays in the namespace it was made in) and
relays each connection to the same port on the host's loopback. These camera-side connections are not
one of the emulated links, so they are not shaped. Connections are bounded (``MAX_CONNECTIONS``) and an
idle one is closed after ``IDLE_TIMEOUT_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/var/run/netns"
MAX_CONNECTIONS = 256
IDLE_TIMEOUT_S = 120.0
CONNECT_TIMEOUT_S = 5.0


def listen_in(netns: str, port: int) -> socket.socket:
    """A socket listening on 127.0.0.1:``port`` inside ``netns`` (this process stays where it is)."""
    made: dict[str, object] = {}

    def enter_and_listen() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(os.path.join(NETNS_DIR, netns), os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {netns} failed")
            finally:
                os.close(fd)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(64)
            sock.setblocking(False)
            made["sock"] = sock
        except OSError as exc:
            made["error"] = exc

    thread = threading.Thread(target=enter_and_listen)  # setns moves only this thread, which then ends
    thread.start()
    thread.join(timeout=10)
    if "sock" not in made:
        raise OSError(f"cannot listen on 127.0.0.1:{port} in {netns}: {made.get('error', 'timed out')}")
    sock = made["sock"]
    assert isinstance(sock, socket.socket)
    return sock


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await asyncio.wait_for(reader.read(65536), timeout=IDLE_TIMEOUT_S)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()


async def serve(netns: list[str], ports: list[int]) -> None:
    slots = asyncio.Semaphore(MAX_CONNECTIONS)

    def relay_to(port: int):  # type: ignore[no-untyped-def]
        async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if slots.locked():
                writer.close()
                return
            async with slots:
                try:
                    up_reader, up_writer = await asyncio.wait_for(
                        asyncio.open_connection("127.0.0.1", port), timeout=CONNECT_TIMEOUT_S
                    )
                except (OSError, TimeoutError):
                    writer.close()
                    return
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

        return relay

    servers = [await asyncio.start_server(relay_to(port), sock=listen_in(ns, port)) for ns in netns for port in ports]
    print(f"relaying {ports} into {netns}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m backend.local_runtime.hostports NETNS[,NETNS...] PORT[,PORT...]", file=sys.stderr)
        return 2
    namespaces = [n for n in args[0].split(",") if n]
    ports = [int(p) for p in args[1].split(",") if p]
    asyncio.run(serve(namespaces, ports))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
