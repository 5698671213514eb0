"""CPU quotas of virtual nodes, enforced by the kernel's cgroups.

A node with ``cpu_quota`` (cores, e.g. 0.5) gets a cgroup of its own under one the runtime makes for the
install, ``<its own cgroup>/dayu-<install prefix>/<node>``, in the hierarchy that holds the ``cpu``
controller (v2: ``cpu.max``; v1: ``cpu.cfs_quota_us`` over a 100 ms period). Each of the node's components
starts through ``sh``, which moves itself into the node's cgroup and then execs the component, so the
component and everything it starts run under the quota from their first instruction. ``teardown``
removes the cgroups once the components are gone.

Where cgroups cannot be used (no ``cpu`` controller mounted, not writable by this user, v2 without
``cpu`` delegated to this subtree), the quota is not enforced: ``<run_dir>/cgroups.json`` and the
runtime's status say so with the reason, and a warning is logged. Nothing is limited silently or
left unlimited silently.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backend.local_runtime.netns import install_prefix
from common.cgroupfs import ENV_CGROUP, ENV_QUOTA, V1_PERIOD_US, CpuController, cpu_controller, own_cgroup

log = logging.getLogger(__name__)

STATE_FILE = "cgroups.json"
REMOVE_TIMEOUT_S = 3.0
ENTER = 'echo $$ > "$0/cgroup.procs" && exec "$@"'
"""``sh -c ENTER DIR ARGV...``: move this shell into cgroup DIR, then become ARGV (same pid)."""


class NodeCpuLimits:
    """Sets up, describes and removes the CPU cgroups of one run directory's nodes."""

    def __init__(self, run_dir: Path, *, controller: CpuController | None = None) -> None:
        self.run_dir = run_dir
        self._controller = controller

    @property
    def state_path(self) -> Path:
        return self.run_dir / STATE_FILE

    def state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _base(self) -> tuple[CpuController | None, Path | None, str | None]:
        """The controller, the install's parent cgroup directory, or why there is none."""
        controller = self._controller or cpu_controller()
        if controller is None:
            return None, None, "no cgroup hierarchy with the cpu controller is mounted"
        own = own_cgroup(controller)
        if own is None:
            return controller, None, f"this process's cgroup in {controller.mount} is unknown"
        return controller, controller.directory(own) / f"dayu-{install_prefix(self.run_dir)}", None

    def setup(self, quotas: Mapping[str, float | None]) -> dict[str, Any]:
        """A cgroup per node with a quota; returns (and records) what is enforced, or why nothing is."""
        self.teardown()
        limited = {node: float(q) for node, q in quotas.items() if q is not None}
        state: dict[str, Any] = {"enforced": False, "cgroup_version": None, "reason": None, "nodes": {}}
        for node, quota in quotas.items():
            state["nodes"][node] = {"cpu_quota": quota, "cgroup": None}
        if limited:
            controller, base, reason = self._base()
            if controller is not None and base is not None:
                try:
                    self._create(controller, base, limited)
                    state.update(enforced=True, cgroup_version=controller.version)
                    for node in limited:
                        state["nodes"][node]["cgroup"] = str(base / node)
                except OSError as exc:
                    reason = f"cannot set CPU quotas in {base}: {exc.strerror or exc}"
                    self._remove(base)
            if reason is not None:
                state["reason"] = f"CPU quotas NOT enforced (nodes run unlimited): {reason}"
                log.warning("%s", state["reason"])
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(json.dumps(state, indent=2))
        return state

    @staticmethod
    def _create(controller: CpuController, base: Path, quotas: Mapping[str, float]) -> None:
        if controller.version == 2:
            # The cpu controller must be delegated down to the nodes' cgroups.
            (base.parent / "cgroup.subtree_control").write_text("+cpu")
            base.mkdir(exist_ok=True)
            (base / "cgroup.subtree_control").write_text("+cpu")
        else:
            base.mkdir(exist_ok=True)
        for node, cores in quotas.items():
            directory = base / node
            directory.mkdir(exist_ok=True)
            quota_us = max(1000, round(cores * V1_PERIOD_US))  # the kernel's least quota is 1 ms
            if controller.version == 2:
                (directory / "cpu.max").write_text(f"{quota_us} {V1_PERIOD_US}")
            else:
                (directory / "cpu.cfs_period_us").write_text(str(V1_PERIOD_US))
                (directory / "cpu.cfs_quota_us").write_text(str(quota_us))

    def cgroup(self, node: str) -> str | None:
        entry = self.state().get("nodes", {}).get(node)
        return entry.get("cgroup") if isinstance(entry, dict) else None

    def env(self, node: str) -> dict[str, str]:
        """What a component of ``node`` is told of its quota: ``ip netns exec`` mounts a fresh ``/sys`` without
        the cgroup hierarchies, so a component in a namespace cannot read its own cgroup's quota."""
        entry = self.state().get("nodes", {}).get(node)
        if not isinstance(entry, dict) or entry.get("cgroup") is None:
            return {}
        return {ENV_QUOTA: f"{entry['cpu_quota']:g}", ENV_CGROUP: str(entry["cgroup"])}

    def command(self, node: str, argv: list[str]) -> list[str]:
        """``argv`` started inside ``node``'s cgroup (unchanged for a node without one)."""
        directory = self.cgroup(node)
        return argv if directory is None else ["/bin/sh", "-c", ENTER, directory, *argv]

    def describe(self) -> dict[str, Any]:
        return self.state()

    def teardown(self) -> list[str]:
        """Remove this install's cgroups (its processes are gone by now; a straggler is waited for)."""
        _, base, _ = self._base()
        removed = self._remove(base) if base is not None else []
        state = self.state()
        if state.get("enforced"):
            state["enforced"] = False
            for entry in state.get("nodes", {}).values():
                entry["cgroup"] = None
            with contextlib.suppress(OSError):
                self.state_path.write_text(json.dumps(state, indent=2))
        return removed

    @staticmethod
    def _remove(base: Path) -> list[str]:
        if not base.is_dir():
            return []
        removed: list[str] = []
        deadline = time.monotonic() + REMOVE_TIMEOUT_S
        for directory in [*sorted(p for p in base.iterdir() if p.is_dir()), base]:
            while True:
                try:
                    os.rmdir(directory)
                    removed.append(str(directory))
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:  # EBUSY: a process of the node has not exited yet
                    if time.monotonic() >= deadline:
                        log.warning("could not remove cgroup %s: %s", directory, exc.strerror or exc)
                        break
                    time.sleep(0.05)
        return removed
