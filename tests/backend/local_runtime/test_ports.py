"""Ports of the local runtime: from a range of its own, reserved in a machine-wide ledger, never handed out
twice; a port bound by a process outside Dayu before the workload starts is replaced, a bounded number of
times. The installs start real processes (a minimal server per workload, so that 32 sources install in
seconds on two cores; the allocation and the launching are the runtime's own)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from backend.local_runtime.ports import PortAllocator, bindable, runtime_range
from backend.local_runtime.runtime import PORT_RETRIES, LocalRuntime
from common.errors import ConfigError, Unavailable
from common.workload import Workload
from tests import loopback

NODES = {"cloud": {"role": "cloud"}, "edge1": {"role": "edge"}}

# A component's stand-in: listens on its given port (as uvicorn does, with SO_REUSEADDR) and answers every
# request with 200; a port already bound makes it exit with Python's "Address already in use".
HEALTH_SERVER = r"""
import os, socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((os.environ["DAYU_HOST"], int(os.environ["DAYU_PORT"])))
s.listen(64)
while True:
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
    c.close()
"""
COMMAND = [sys.executable, "-S", "-c", HEALTH_SERVER]


def workloads(sources: int) -> list[Workload]:
    return [
        Workload(name="distributor", component="distributor", node="cloud", stage=1, command=COMMAND),
        Workload(name="controller-edge1", component="controller", node="edge1", command=COMMAND),
        *(
            Workload(
                name=f"gen-scale{sources}-{i}", component="generator", node="edge1", source_id=f"s{i}", command=COMMAND
            )
            for i in range(sources)
        ),
    ]


# The tests' own ranges lie below the runtime's default (20000-29999) and the kernel's ephemeral ports, so
# that no port the rest of the suite uses can fall into them, and each is a block found wholly free when the
# test starts: a port this module's previous run left in TIME_WAIT (a minute) is skipped, not failed on.
TEST_PORTS = (17000, 19999)


def free_block(size: int) -> tuple[int, int]:
    """The first ``size`` consecutive ports of TEST_PORTS that can all be bound now."""
    for low in range(TEST_PORTS[0], TEST_PORTS[1] - size + 2, size):
        if all(bindable("127.0.0.1", p) for p in range(low, low + size)):
            return low, low + size - 1
    raise AssertionError(f"no {size} consecutive free ports in {TEST_PORTS[0]}-{TEST_PORTS[1]} on this machine")


def allocator(tmp_path: Path, owner: str = "a", port_range: tuple[int, int] | None = None) -> PortAllocator:
    return PortAllocator(owner, port_range=port_range or free_block(64), ledger=tmp_path / "ledger.json")


# -- the allocator -----------------------------------------------------------------------------------


def test_ports_are_never_given_out_twice_across_owners_until_released(tmp_path: Path) -> None:
    low, high = free_block(64)
    a, b = allocator(tmp_path, "run-a", (low, high)), allocator(tmp_path, "run-b", (low, high))
    given: list[int] = []
    for _ in range(10):
        given += a.allocate(3) + b.allocate(3)
    assert len(given) == len(set(given)) == 60
    assert all(low <= p <= high for p in given)
    with pytest.raises(Unavailable, match=f"only 4 of the 5 ports asked for are free in {low}-{high}"):
        a.allocate(5)
    b.release()
    assert set(a.reserved().values()) == {"run-a"}
    again = b.allocate(30)
    assert not set(again) & {p for p, owner in a.reserved().items() if owner == "run-a"}


def test_a_port_bound_by_another_process_is_skipped(tmp_path: Path) -> None:
    block = free_block(64)
    first = allocator(tmp_path, "probe", block).allocate(1)[0]
    allocator(tmp_path, "probe", block).release()
    with socket.socket() as held:  # what any process outside Dayu could hold
        held.bind(("127.0.0.1", first))
        held.listen(1)
        got = allocator(tmp_path, "probe", block).allocate(5)
    assert first not in got and len(set(got)) == 5


def test_a_reservation_of_a_process_that_is_gone_is_freed(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    four = free_block(4)
    dead = PortAllocator("old", port_range=four, ledger=tmp_path / "l.json", pid=child.pid)
    dead.allocate(4)
    assert len(PortAllocator("new", port_range=four, ledger=tmp_path / "l.json").allocate(4)) == 4


def test_keep_and_replace(tmp_path: Path) -> None:
    a = allocator(tmp_path)
    ports = a.allocate(3)
    other = a.replace(ports[0], exclude=ports)
    assert other not in ports and set(a.reserved()) == {*ports, other}
    a.keep(ports[1:])
    assert set(a.reserved()) == set(ports[1:])


def test_the_range_lies_below_the_kernels_ephemeral_ports() -> None:
    assert runtime_range("", (32768, 60999)) == (20000, 29999)
    assert runtime_range("", (25000, 60999)) == (20000, 24999)
    assert runtime_range("", (1024, 65535)) == (20000, 29999)  # no room below: the default
    assert runtime_range("40000-40100") == (40000, 40100)
    with pytest.raises(ConfigError, match="DAYU_PORT_RANGE"):
        runtime_range("40100-40000")
    with pytest.raises(ConfigError, match="LOW-HIGH"):
        runtime_range("lots")


# -- installs of real processes ------------------------------------------------------------------------


@pytest.mark.integration
def test_32_sources_install_ten_times_in_a_row(tmp_path: Path) -> None:
    rt = LocalRuntime(tmp_path / "run")  # the machine-wide ledger, as every runtime uses it
    low, high = rt.ports.low, rt.ports.high
    for _ in range(10):
        topology = rt.start(NODES, [], workloads(32), timeout=60)
        try:
            status = rt.status()
            assert len(status) == 34 and all(s["alive"] and s["healthy"] for s in status.values()), status
            ports = [s["port"] for s in status.values()]
            assert len(set(ports)) == 34 and all(low <= p <= high for p in ports)
            listed = [e.port for node in topology.model.nodes.values() for e in node.components.values()]
            assert sorted(listed) == sorted(ports)
        finally:
            rt.stop(timeout=10)
        assert not any(owner == str(rt.run_dir) for owner in rt.ports.reserved().values())
        assert not any(_listening(p) for p in ports)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Contested(PortAllocator):
    """Gives out ports as the runtime's allocator does, then binds the first ``grabs`` of them itself,
    after the allocator checked them and before the workload starts: the race with a process outside Dayu
    that cannot be timed on purpose."""

    def __init__(self, *args: object, grabs: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.grabs = grabs
        self.held: list[socket.socket] = []

    def _grab(self, ports: list[int]) -> list[int]:
        if self.grabs > 0:
            self.grabs -= 1
            s = socket.socket()
            s.bind(("127.0.0.1", ports[0]))
            s.listen(1)
            self.held.append(s)
        return ports

    def allocate(self, count: int, *, exclude: Iterable[int] = ()) -> list[int]:
        return self._grab(super().allocate(count, exclude=exclude))

    def replace(self, port: int, *, exclude: Iterable[int] = ()) -> int:
        return self._grab([super().replace(port, exclude=exclude)])[0]

    def close(self) -> None:
        for s in self.held:
            s.close()


@pytest.mark.integration
def test_a_port_taken_before_the_workload_binds_it_is_replaced(tmp_path: Path) -> None:
    ports = Contested(str(tmp_path / "run"), port_range=free_block(100), ledger=tmp_path / "l.json", grabs=1)
    rt = LocalRuntime(tmp_path / "run", ports=ports)
    try:
        rt.start(NODES, [], workloads(2), timeout=30)
        taken = ports.held[0].getsockname()[1]
        status = rt.status()
        assert all(s["healthy"] for s in status.values()), status
        assert taken not in [s["port"] for s in status.values()]
        distributor = rt.topology().component_url("distributor")
        assert distributor == rt.url("distributor")  # the topology names the port it runs on now
        assert loopback.get(distributor + "/health", timeout=5).status_code == 200
    finally:
        rt.stop(timeout=10)
        ports.close()


@pytest.mark.integration
def test_a_workload_whose_every_port_is_taken_fails_the_start_with_the_ports_tried(tmp_path: Path) -> None:
    ports = Contested(str(tmp_path / "run"), port_range=free_block(100), ledger=tmp_path / "l.json", grabs=99)
    rt = LocalRuntime(tmp_path / "run", ports=ports)
    try:
        with pytest.raises(Unavailable, match=r"'distributor' could not listen: ports .* were each bound") as err:
            rt.start(NODES, [], workloads(1), timeout=30)
        assert len(err.value.detail["ports"]) == PORT_RETRIES + 1
        assert rt.records() == []  # nothing of the failed start is left
    finally:
        rt.stop(timeout=10)
        ports.close()
