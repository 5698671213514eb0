"""Reading the CPU controller: mount discovery (v1, v2, hybrid), a process's cgroup, quotas in both
versions and the least quota on the way to the root. The files are written here in the kernel's formats;
tests/backend/local_runtime/test_cgroups.py exercises the real hierarchy of this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.cgroupfs import (
    ENV_CGROUP,
    ENV_QUOTA,
    CpuCapacity,
    CpuController,
    capacity,
    cpu_controller,
    own_cgroup,
    quota_cores,
    usable_cores,
)

pytestmark = pytest.mark.unit

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / {cpu} rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
40 31 0:37 / {unified} rw,relatime - cgroup2 cgroup2 rw
"""


def test_hybrid_machine_uses_the_v1_cpu_hierarchy(tmp_path: Path) -> None:
    unified = tmp_path / "unified"
    unified.mkdir()
    (unified / "cgroup.controllers").write_text("hugetlb\n")
    info = tmp_path / "mountinfo"
    info.write_text(HYBRID.format(cpu=tmp_path / "cpu", unified=unified))
    assert cpu_controller(info) == CpuController(1, tmp_path / "cpu", "/")
    proc = tmp_path / "cgroup"
    proc.write_text("9:name=systemd:/\n2:cpuacct:/\n1:cpu:/dayu/edge1\n0::/\n")
    controller = CpuController(1, tmp_path / "cpu")
    assert own_cgroup(controller, proc) == "/dayu/edge1"
    assert controller.directory("/dayu/edge1") == tmp_path / "cpu" / "dayu" / "edge1"


def test_pure_v2_with_the_cpu_controller(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    info = tmp_path / "mountinfo"
    info.write_text(f"30 23 0:26 /kubepods/pod1 {tmp_path} rw - cgroup2 cgroup2 rw\n")
    controller = cpu_controller(info)
    assert controller == CpuController(2, tmp_path, "/kubepods/pod1")
    proc = tmp_path / "cgroup"
    proc.write_text("0::/kubepods/pod1/app\n")
    assert own_cgroup(controller, proc) == "/kubepods/pod1/app"
    assert controller.directory("/kubepods/pod1/app") == tmp_path / "app"  # inside a cgroup namespace
    assert cpu_controller(tmp_path / "missing") is None


def test_quota_in_both_versions_and_none(tmp_path: Path) -> None:
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("50000 100000\n")
    assert quota_cores(v2, 2) == 0.5
    (v2 / "cpu.max").write_text("max 100000\n")
    assert quota_cores(v2, 2) is None
    v1 = tmp_path / "v1"
    v1.mkdir()
    (v1 / "cpu.cfs_quota_us").write_text("150000\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    assert quota_cores(v1, 1) == 1.5
    (v1 / "cpu.cfs_quota_us").write_text("-1\n")
    assert quota_cores(v1, 1) is None
    assert quota_cores(tmp_path / "absent", 1) is None


def test_the_least_quota_up_to_the_root_binds(tmp_path: Path) -> None:
    node = tmp_path / "dayu" / "edge1"
    node.mkdir(parents=True)
    for directory, quota in ((tmp_path, -1), (tmp_path / "dayu", 25_000), (node, 50_000)):
        (directory / "cpu.cfs_quota_us").write_text(f"{quota}\n")
        (directory / "cpu.cfs_period_us").write_text("100000\n")
    controller = CpuController(1, tmp_path)
    assert capacity(controller, "/dayu/edge1").cores == 0.25  # the parent's quota is smaller
    assert capacity(controller, "/dayu/edge1").limited_by == "/dayu"
    (tmp_path / "dayu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert capacity(controller, "/dayu/edge1").cores == 0.5
    assert capacity(controller, "/dayu/edge1").limited_by == "/dayu/edge1"
    free = capacity(controller, "/")
    assert free.cores == usable_cores() and free.limited_by is None


def test_where_the_hierarchy_is_not_mounted_the_launchers_word_is_taken(tmp_path: Path, monkeypatch) -> None:
    """``ip netns exec`` mounts a fresh /sys: a component in a namespace sees no cgroup hierarchy."""
    info = tmp_path / "mountinfo"
    info.write_text("31 23 0:28 / /sys rw - sysfs sysfs rw\n")
    monkeypatch.setattr("common.cgroupfs.MOUNTINFO", info)
    monkeypatch.delenv(ENV_QUOTA, raising=False)
    assert capacity() == CpuCapacity(float(usable_cores()), None)
    monkeypatch.setenv(ENV_QUOTA, "0.5")
    monkeypatch.setenv(ENV_CGROUP, "/sys/fs/cgroup/cpu/dayu-x/edge1")
    assert capacity() == CpuCapacity(0.5, "/sys/fs/cgroup/cpu/dayu-x/edge1")
    monkeypatch.setenv(ENV_QUOTA, "many")
    assert capacity().limited_by is None
