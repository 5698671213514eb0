"""The kernel's CPU controller as a process sees it: where it is mounted, the process's own cgroup in it,
and the CPU quota that binds that cgroup.

Both cgroup versions are read: v2 (``cpu.max``, one unified hierarchy) and v1 (``cpu.cfs_quota_us`` and
``cpu.cfs_period_us`` in the hierarchy that holds the ``cpu`` controller; hybrid machines mount v1
controllers beside an empty v2 hierarchy). A quota set on an ancestor binds too, so the capacity is the
least quota on the way up to the hierarchy's root, and never more than the cores the process may run on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

MOUNTINFO = Path("/proc/self/mountinfo")
PROC_CGROUP = Path("/proc/self/cgroup")
V1_PERIOD_US = 100_000
"""The CFS period the local runtime sets with a v1 quota (the kernel's default)."""
ENV_QUOTA = "DAYU_CPU_QUOTA"
ENV_CGROUP = "DAYU_CPU_CGROUP"
"""The quota (cores) and cgroup a launcher put this process under, for where the cgroup hierarchy is not
mounted in the process's own view (``ip netns exec`` mounts a fresh ``/sys``): used only then."""


@dataclass(frozen=True)
class CpuController:
    version: Literal[1, 2]
    mount: Path
    """Where the hierarchy that holds the ``cpu`` controller is mounted."""
    root: str = "/"
    """The cgroup path the mount shows at its top (not ``/`` inside a cgroup namespace)."""

    def directory(self, cgroup: str) -> Path:
        """The directory of ``cgroup`` (a path as ``/proc/<pid>/cgroup`` gives it) under the mount."""
        relative = cgroup
        if self.root != "/" and (cgroup == self.root or cgroup.startswith(self.root + "/")):
            relative = cgroup[len(self.root) :]
        return self.mount / relative.lstrip("/")


def cpu_controller(mountinfo: Path | None = None) -> CpuController | None:
    """The mounted hierarchy that has the ``cpu`` controller (v1 first: on a hybrid machine v2 lacks it)."""
    try:
        lines = (mountinfo or MOUNTINFO).read_text().splitlines()
    except OSError:
        return None
    unified: CpuController | None = None
    for line in lines:
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        root, mount, fstype, options = fields[3], Path(fields[4]), tail[0], tail[2].split(",")
        if fstype == "cgroup" and "cpu" in options:
            return CpuController(1, mount, root)
        if fstype == "cgroup2" and unified is None and "cpu" in _words(mount / "cgroup.controllers"):
            unified = CpuController(2, mount, root)
    return unified


def own_cgroup(controller: CpuController, proc_cgroup: Path | None = None) -> str | None:
    """This process's cgroup in ``controller``'s hierarchy (``/proc/self/cgroup``)."""
    try:
        lines = (proc_cgroup or PROC_CGROUP).read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if controller.version == 2 and parts[0] == "0" and parts[1] == "":
            return parts[2]
        if controller.version == 1 and "cpu" in parts[1].split(","):
            return parts[2]
    return None


def quota_cores(directory: Path, version: Literal[1, 2]) -> float | None:
    """The quota set on one cgroup directory, in cores (None: no quota, or unreadable)."""
    try:
        if version == 2:
            quota, _, period = (directory / "cpu.max").read_text().strip().partition(" ")
            return None if quota == "max" else int(quota) / int(period or V1_PERIOD_US)
        quota_us = int((directory / "cpu.cfs_quota_us").read_text())
        period_us = int((directory / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota_us < 0 or period_us <= 0 else quota_us / period_us


def usable_cores() -> int:
    """Cores this process may be scheduled on (its affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class CpuCapacity:
    cores: float
    """Cores this process's cgroup may use: its (or an ancestor's) quota, else the usable cores."""
    limited_by: str | None
    """The cgroup whose quota sets ``cores`` (None: no quota binds, ``cores`` is the usable cores)."""


def capacity(controller: CpuController | None = None, cgroup: str | None = None) -> CpuCapacity:
    """What this process (or ``cgroup``) may use of the CPU."""
    cores = float(usable_cores())
    controller = controller or cpu_controller()
    if controller is None:
        return _from_launcher(cores, os.environ)
    cgroup = cgroup if cgroup is not None else own_cgroup(controller)
    if cgroup is None:
        return _from_launcher(cores, os.environ)
    directory = controller.directory(cgroup)
    best: tuple[float, str] | None = None
    while True:
        quota = quota_cores(directory, controller.version)
        if quota is not None and (best is None or quota < best[0]):
            best = (quota, "/" + str(directory.relative_to(controller.mount)).lstrip("."))
        if directory == controller.mount or controller.mount not in directory.parents:
            break
        directory = directory.parent
    if best is None or best[0] >= cores:
        return CpuCapacity(cores, None)
    return CpuCapacity(best[0], best[1])


def _from_launcher(cores: float, env: Mapping[str, str]) -> CpuCapacity:
    """The quota the launcher says it set, where this process cannot see its cgroup (else the cores)."""
    try:
        quota = float(env.get(ENV_QUOTA, ""))
    except ValueError:
        return CpuCapacity(cores, None)
    if not (quota > 0) or quota >= cores:
        return CpuCapacity(cores, None)
    return CpuCapacity(quota, env.get(ENV_CGROUP) or "(set by the launcher)")


def _words(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except OSError:
        return []
