"""``dayuctl profile``: measure each service's model time per frame at each resolution, into a profile table.

Each service's application (as its processor template configures it) is loaded in a process of its own (the
processor's offline tool, :mod:`services.processor.offline`) and run on frames of a video (the synthetic clip
by default) resized to each resolution: the median over the runs, after warm-up, is the table's ms per frame;
the resident memory the loaded model added is its memory.
The local runtime's virtual nodes share this machine, so every node gets the figures measured here; on a
real cluster run it on each kind of node and merge the tables.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from pathlib import Path

from backend.offline import PROCESSOR, run_tool
from backend.templates import load_template
from common.contracts.offline import ProfileReply, ProfileRequest
from common.errors import ConfigError
from common.profile_table import ProfileRow, ProfileTable, save_table


def profile(
    template_dir: str | Path,
    video: Path,
    *,
    services: Sequence[str] | None = None,
    resolutions: Sequence[str] = ("360p", "480p", "540p", "720p"),
    frames: int = 4,
    runs: int = 3,
) -> ProfileTable:
    template = load_template(template_dir)
    wanted = list(services or template.services)
    nodes = list(template.base.local.nodes)
    rows = []
    read = frames
    for service in wanted:
        spec = template.services.get(service)
        if spec is None:
            raise ConfigError(f"unknown service {service!r}; known: {', '.join(sorted(template.services))}")
        application = template.component(spec.template).config.get("application") or {}
        if spec.input != "frame":
            continue  # it needs an upstream stage's output: profiled as part of its pipeline only
        request = ProfileRequest(
            application=application, video=str(video), frames=frames, resolutions=list(resolutions), runs=runs
        )
        measured = run_tool(PROCESSOR, "profile", request, ProfileReply)
        read = measured.frames
        for resolution in resolutions:
            ms = measured.ms_per_frame[resolution]
            rows += [
                ProfileRow(
                    service=service, node=node, resolution=resolution, ms_per_frame=ms, memory_mb=measured.memory_mb
                )
                for node in nodes
            ]
    return ProfileTable(
        measured_at=time.time(),
        host=platform.node(),
        note=f"median of {runs} runs over {read} frames of {video.name}, in one process; nodes share this host",
        rows=rows,
    )


def cmd_profile(args: object) -> None:
    """``dayuctl profile``: measure and write the table (no backend needed)."""
    from backend.benchpolicies.workload import prepare_clip

    template = str(getattr(args, "template", "template"))
    out = Path(str(getattr(args, "out", ".dayu/profiles/latency.json")))
    video = getattr(args, "video", None)
    clip = Path(video) if video else prepare_clip(out.parent / "workload", 7)[0]
    services = [s for s in str(getattr(args, "services", "") or "").split(",") if s] or None
    table = profile(template, clip, services=services)
    save_table(table, out)
    for row in table.rows:
        print(f"{row.service:22s} {row.node:8s} {row.resolution:6s} {row.ms_per_frame:8.2f} ms/frame")
    print(f"wrote {out}")
