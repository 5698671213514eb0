"""The ``baseline`` level of the Kubernetes Pod Security Standards, as its documentation lists the controls
(no Pod Security admission runs here): what a pod spec breaks, one line per control."""

from __future__ import annotations

from typing import Any

BASELINE_CAPABILITIES = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def _security(ctx: dict[str, Any] | None, where: str, out: list[str]) -> None:
    ctx = ctx or {}
    if (ctx.get("windowsOptions") or {}).get("hostProcess"):
        out.append(f"{where}: hostProcess")
    if ctx.get("privileged"):
        out.append(f"{where}: privileged")
    added = set((ctx.get("capabilities") or {}).get("add") or [])
    if added - BASELINE_CAPABILITIES:
        out.append(f"{where}: capabilities {sorted(added - BASELINE_CAPABILITIES)}")
    if (ctx.get("seccompProfile") or {}).get("type") == "Unconfined":
        out.append(f"{where}: seccomp Unconfined")
    if (ctx.get("appArmorProfile") or {}).get("type") == "Unconfined":
        out.append(f"{where}: AppArmor Unconfined")
    selinux = ctx.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in SELINUX_TYPES or selinux.get("user") or selinux.get("role"):
        out.append(f"{where}: SELinux options")
    if ctx.get("procMount", "Default") != "Default":
        out.append(f"{where}: procMount")


def baseline_violations(spec: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            out.append(f"pod: {key}")
    _security(spec.get("securityContext"), "pod", out)
    for sysctl in (spec.get("securityContext") or {}).get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            out.append(f"pod: sysctl {sysctl.get('name')}")
    for volume in spec.get("volumes") or []:
        if "hostPath" in volume:
            out.append(f"volume {volume['name']}: hostPath")
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        where = f"container {container['name']}"
        _security(container.get("securityContext"), where, out)
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                out.append(f"{where}: hostPort {port['hostPort']}")
    return out
