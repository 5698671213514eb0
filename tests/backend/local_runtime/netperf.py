"""A minimal throughput meter for the namespace tests (run inside a namespace with ``ip netns exec``).

``serve HOST PORT SECONDS CONNECTIONS``: accept CONNECTIONS senders; once all are connected (and half a
second later), count what each sends during the same SECONDS; print one JSON line of Mbit/s per connection.
``send HOST PORT SECONDS``: send as fast as the link lets until the meter closes the connection.
``timeline HOST PORT SECONDS``: accept one sender; print one JSON line of ``[monotonic time, bytes]`` of
every read during SECONDS (one monotonic clock for every namespace of the machine).
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time

CHUNK = b"\0" * 65536


def serve(host: str, port: int, seconds: float, connections: int, warmup: float = 0.5) -> None:
    listener = socket.create_server((host, port))
    listener.settimeout(15)
    print("ready", flush=True)
    totals = [0] * connections
    window: list[float] = []  # [start, end] once every sender is connected and warmed up

    def count(conn: socket.socket, index: int) -> None:
        conn.settimeout(10)
        with conn:
            while True:
                data = conn.recv(1 << 20)
                now = time.monotonic()
                if not data or (window and now > window[1]):
                    break
                if window and now >= window[0]:
                    totals[index] += len(data)

    threads = []
    for index in range(connections):
        conn, _ = listener.accept()
        thread = threading.Thread(target=count, args=(conn, index))
        thread.start()
        threads.append(thread)
    begin = time.monotonic() + warmup
    window.extend([begin, begin + seconds])
    for thread in threads:
        thread.join(timeout=seconds + warmup + 15)
    print(json.dumps([total * 8 / seconds / 1e6 for total in totals]), flush=True)


def timeline(host: str, port: int, seconds: float) -> None:
    listener = socket.create_server((host, port))
    listener.settimeout(15)
    print("ready", flush=True)
    reads: list[tuple[float, int]] = []
    conn, _ = listener.accept()
    conn.settimeout(1.0)
    end = time.monotonic() + seconds
    with conn:
        while time.monotonic() < end:
            try:
                data = conn.recv(1 << 20)
            except TimeoutError:
                continue  # an outage: nothing arrives for a while
            if not data:
                break
            reads.append((time.monotonic(), len(data)))
    print(json.dumps(reads), flush=True)


def send(host: str, port: int, seconds: float) -> None:
    with socket.create_connection((host, port), timeout=10) as conn:
        end = time.monotonic() + seconds + 10.0
        try:
            while time.monotonic() < end:
                conn.sendall(CHUNK)
        except OSError:
            pass  # the meter closed the connection after its window


if __name__ == "__main__":
    action, host, port, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    if action == "serve":
        serve(host, port, seconds, int(sys.argv[5]))
    elif action == "timeline":
        timeline(host, port, seconds)
    else:
        send(host, port, seconds)
