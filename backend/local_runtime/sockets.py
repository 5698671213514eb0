"""Unix domain socket paths for the data-plane components of the local runtime.

Callers on a component's node reach it through its socket (``common.listen``, ``common.topology``), which
spares both sides the loopback TCP stack on every call; its TCP port stays for other nodes and health checks.
A socket path must fit ``sun_path`` (107 bytes): the run dir's own ``sock`` folder when it fits, else a folder
in the system's temporary directory named after the run dir, so two run dirs never share a socket.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from common.listen import MAX_SOCKET_PATH
from common.workload import Workload

SOCKET_COMPONENTS = frozenset({"controller", "processor", "distributor", "scheduler"})
"""Those called on the data plane by components of their own node (generator -> controller,
controller <-> processor, controller -> distributor, distributor -> scheduler)."""


def socket_dir(run_dir: Path) -> Path:
    own = run_dir / "sock"
    if len(str(own)) + 1 + 24 <= MAX_SOCKET_PATH:  # room for a hashed name (below)
        return own
    digest = hashlib.sha256(str(run_dir).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"dayu-sock-{digest}"


def socket_path(run_dir: Path, workload: Workload) -> Path | None:
    """Where ``workload`` listens beside its port; None for a component that gets no socket (one with a
    command of its own cannot be told to listen on one)."""
    if workload.component not in SOCKET_COMPONENTS or workload.command:
        return None
    folder = socket_dir(run_dir)
    path = folder / f"{workload.name}.sock"
    if len(str(path)) > MAX_SOCKET_PATH:
        path = folder / f"{hashlib.sha256(workload.name.encode()).hexdigest()[:19]}.sock"
    return path
