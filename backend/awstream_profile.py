"""An offline profile for ``awstream``: the golden labeller's reports on golden segments of a training clip.

The clip is cut into golden segments as the generator would make them at the agent's golden configuration
(its frames at the golden fps and resolution, encoded and decoded again), and each is labelled by the
processor's own golden labeller (:func:`services.processor.labeller.label`) with the service's application
and its golden model: every configuration of the agent's grid is derived from the segment and scored
against the golden model's detections. No ground truth is read. The reports, a JSON list, are what the
agent's ``profile`` parameter takes. The agent's grid comes from the scheduler's offline tool and the
labelling from the processor's (:mod:`services.scheduler.offline`, :mod:`services.processor.offline`), each
run as a process: the control plane imports no runtime component.

``python -m backend.awstream_profile --clip FILE --service ID --out FILE`` (``--help`` for the rest).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2

from backend.benchpolicies.golden import golden_config
from backend.offline import PROCESSOR, SCHEDULER, run_tool
from backend.templates import load_template
from common.contracts.offline import AwstreamGrid, AwstreamGridRequest, LabelReply, LabelRequest
from common.errors import ConfigError, DayuError
from common.golden import Knobs, LabelReport
from common.task import Meta


def clip_rate(clip: Path) -> float:
    """The clip's frame rate (30 where its container does not say)."""
    capture = cv2.VideoCapture(str(clip))
    if not capture.isOpened():
        raise ConfigError(f"cannot open the clip {clip}")
    try:
        return float(capture.get(cv2.CAP_PROP_FPS)) or 30.0
    finally:
        capture.release()


def profile_clip(
    template_dir: str | Path,
    clip: Path,
    service: str,
    *,
    params: dict[str, Any] | None = None,
    startup: Meta | None = None,
    segments: int = 8,
) -> list[LabelReport]:
    """The golden labeller's reports on ``segments`` golden segments of ``clip``, for ``service``'s
    application, listing the grid of an awstream agent configured with ``params`` (default: the template's)."""
    reference = golden_config(template_dir, service)  # the service's application and golden model
    application, golden_model = reference.application, reference.model
    template = load_template(template_dir)
    if params is None:
        policy = template.policies.get("awstream")
        scheduler = template.component(policy.scheduler).config if policy else {}
        params = dict((scheduler.get("agent") or {}).get("params") or {})
    grid = run_tool(
        SCHEDULER, "awstream-grid", AwstreamGridRequest(params=params, startup=startup or Meta()), AwstreamGrid
    )
    golden_meta = grid.golden
    golden = Knobs(
        resolution=golden_meta.resolution,
        fps=min(golden_meta.fps, clip_rate(clip)),  # as the processor labels: no more frames than the source has
        encoding=golden_meta.encoding,
        qp=golden_meta.qp,
        buffer_size=golden_meta.buffer_size,
        model=golden_model,
    )
    request = LabelRequest(
        application=application, clip=str(clip), golden=golden, candidates=grid.candidates, segments=segments
    )
    return run_tool(PROCESSOR, "label", request, LabelReply).reports


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.awstream_profile", description=__doc__.split("\n")[0])
    parser.add_argument("--clip", required=True, type=Path, help="the training clip (any video file)")
    parser.add_argument("--service", required=True, help="service id whose application labels it")
    parser.add_argument("--out", required=True, type=Path, help="where the profile (JSON) goes")
    parser.add_argument("--template", default="template", help="template directory")
    parser.add_argument(
        "--params", type=json.loads, default=None, help="the agent's parameters as JSON (default: the template's)"
    )
    parser.add_argument("--segments", type=int, default=8, help="golden segments labelled, spread over the clip")
    parser.add_argument("--buffer-size", type=int, default=4, help="frames per served segment (the bytes' unit)")
    parser.add_argument("--encoding", default="mp4v", help="the served segments' codec")
    args = parser.parse_args(argv)
    try:
        startup = Meta(buffer_size=args.buffer_size, encoding=args.encoding)
        reports = profile_clip(
            args.template, args.clip, args.service, params=args.params, startup=startup, segments=args.segments
        )
    except DayuError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps([r.model_dump(mode="json") for r in reports], indent=1), encoding="utf-8")
    informative = sum(1 for r in reports if r.golden_objects)
    print(f"wrote {args.out}: {len(reports)} labelled segments, {informative} with objects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
