"""Accuracy over every frame of the source in the measured window, not only the frames a policy processed.

A deployed camera shows, on each frame, the detections of the last frame it processed: a frame the
policy's fps skipped, or one of a task that was dropped or never finished, carries the last result before
it (a result of the warm-up counts for the window's first frames). So lowering fps costs accuracy, as in
the literature, and so does dropping. Frames are placed by source order, not by when their result came
back: lateness is what the SLO figures measure.

The looping file source numbers frames within the clip (its index starts again at 0 on each pass); tasks
in id order are unrolled into one increasing frame count, using their creation times to tell how many
whole passes lie between two tasks that are far apart.

The score is the project's own (:func:`common.accuracy.score_task`): one task is built whose frames are
every frame of the window, its ground truth the reference's entries for them (ground truth or golden),
its result what was shown on each.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from common.accuracy import score_task
from common.results import FrameResult, SegmentResult
from common.task import END, SENTINELS, Task


@dataclass(frozen=True)
class Shown:
    frame: int
    """Unrolled source frame number."""
    objects: list[dict[str, Any]]
    """Detections in source pixels, as ``{"label", "box"}``."""


def _task(record: dict[str, Any]) -> dict[str, Any] | None:
    task: dict[str, Any] | None = record["task"] if record["kind"] == "result" else record["drop"].get("task")
    return task


def unroll(records: Sequence[dict[str, Any]], clip_frames: int, source_fps: float) -> dict[int, list[int]]:
    """Per task id (results, and drops that carry their task), its frames' unrolled numbers."""
    tasks: dict[int, dict[str, Any]] = {}
    for record in records:
        task = _task(record)
        if task and (task.get("payload") or {}).get("frame_indices"):
            tasks.setdefault(int(task["task_id"]), task)
    out: dict[int, list[int]] = {}
    last: int | None = None  # the previous task's last frame
    first_prev = 0  # and its first
    created_prev = 0.0
    for tid in sorted(tasks):
        task = tasks[tid]
        created = float(task.get("created_at") or 0.0)
        numbers: list[int] = []
        for index in (int(i) % clip_frames for i in task["payload"]["frame_indices"]):
            if last is None:
                current = index
            elif numbers:
                current = last + ((index - last) % clip_frames or clip_frames)  # a frame never repeats in a pass
            else:
                # The first frame after the previous task that has this index, the number of whole passes
                # between them told by the creation times (the generator paces the source to real time).
                nearest = last + ((index - last) % clip_frames or clip_frames)
                expected = first_prev + max(0.0, created - created_prev) * source_fps
                current = nearest + clip_frames * max(0, round((expected - nearest) / clip_frames))
            numbers.append(current)
            last = current
        first_prev, created_prev = numbers[0], created
        out[tid] = numbers
    return out


def _processed(task: dict[str, Any], stage: str, numbers: list[int]) -> list[Shown]:
    result = task["dag"].get(stage, {}).get("result")
    if not isinstance(result, dict):
        return []
    raw = task.get("raw_meta") or {}
    position = {int(i): n for n, i in enumerate(task["payload"]["frame_indices"])}
    shown = []
    for n, frame in enumerate(result.get("frames") or []):
        slot = position.get(frame.get("frame_index"), n) if frame.get("frame_index") is not None else n
        if slot >= len(numbers):
            continue
        sx = raw["width"] / frame["width"] if raw.get("width") and frame.get("width") else 1.0
        sy = raw["height"] / frame["height"] if raw.get("height") and frame.get("height") else 1.0
        objects = [
            {
                "label": o.get("label", "object"),
                "box": [o["box"][0] * sx, o["box"][1] * sy, o["box"][2] * sx, o["box"][3] * sy],
            }
            for o in frame.get("objects") or []
        ]
        shown.append(Shown(numbers[slot], objects))
    return shown


def _stage(task: dict[str, Any]) -> str | None:
    """The stage whose results feed ``_end`` (the one-stage DAG's only stage)."""
    prev = (task["dag"].get(END) or {}).get("prev") or [n for n in task["dag"] if n not in SENTINELS]
    return prev[0] if prev else None


def steps(records: Sequence[dict[str, Any]], source_fps: float) -> dict[int, int]:
    """Per task id, the source frames between two frames its fps keeps."""
    out = {}
    for record in records:
        task = _task(record)
        if task:
            fps = float((task.get("meta") or {}).get("fps") or source_fps)
            out[int(task["task_id"])] = max(1, round(source_fps / fps)) if fps < source_fps else 1
    return out


def window_frames(
    numbers: dict[int, list[int]], first_task: int, end_task: int, step: dict[int, int] | None = None
) -> range:
    """The source frames the window's tasks cover: from the first frame of its first known task to the frame
    before where the next task after its last known one starts (else its last frame plus its fps gap)."""
    inside = [tid for tid in numbers if first_task <= tid < end_task and numbers[tid]]
    if not inside:
        return range(0)
    begin = min(numbers[tid][0] for tid in inside)
    last = max(inside)
    after = [numbers[tid][0] for tid in numbers if tid > last and numbers[tid]]
    end = min(after) if after else numbers[last][-1] + (step or {}).get(last, 1)
    return range(begin, end)


def shown_per_frame(
    records: Sequence[dict[str, Any]], numbers: dict[int, list[int]], frames: range
) -> list[Shown | None]:
    """What is on show on each frame of ``frames``: the last processed frame's detections at or before it
    (None before any result)."""
    processed: dict[int, Shown] = {}
    for record in records:
        if record["kind"] != "result":
            continue
        task = record["task"]
        stage = _stage(task)
        tid = int(task["task_id"])
        if stage is None or tid not in numbers:
            continue
        for item in _processed(task, stage, numbers[tid]):
            processed[item.frame] = item
    order = sorted(processed)
    out: list[Shown | None] = []
    for frame in frames:
        at = bisect.bisect_right(order, frame) - 1
        out.append(processed[order[at]] if at >= 0 else None)
    return out


def score_frames(
    records: Sequence[dict[str, Any]],
    reference: Sequence[dict[str, Any]],
    *,
    first_task: int,
    end_task: int,
    source_fps: float,
) -> dict[str, Any] | None:
    """F1 (and precision, recall) over every source frame of the window against ``reference`` (one entry per
    clip frame, ground truth's shape), with the frames counted; None when no task of the window is known."""
    clip_frames = len(reference)
    numbers = unroll(records, clip_frames, source_fps)
    frames = window_frames(numbers, first_task, end_task, steps(records, source_fps))
    template = next((r["task"] for r in records if r["kind"] == "result" and _stage(r["task"])), None)
    if not frames or template is None:
        return None
    stage = _stage(template)
    assert stage is not None
    shown = shown_per_frame(records, numbers, frames)
    raw = template.get("raw_meta") or {}
    width, height = raw.get("width"), raw.get("height")
    task = Task.model_validate(template).model_copy(deep=True)
    task.payload.frame_indices = list(range(len(frames)))
    task.payload.ground_truth = [reference[f % clip_frames] for f in frames]
    done = task.dag[stage].result or SegmentResult(application=task.dag[stage].service)
    task.dag[stage].result = SegmentResult(
        application=done.application,
        classes=done.classes,
        reads_text=done.reads_text,
        frames=[
            FrameResult.model_validate(
                {"frame_index": n, "width": width, "height": height, "objects": item.objects if item else []}
            )
            for n, item in enumerate(shown)
        ],
    )
    task.dag[stage].done = True
    scores = score_task(task)
    if scores is None:
        return None
    return {
        "f1": scores.get(f"{stage}.f1", scores["accuracy"]),
        "precision": scores.get(f"{stage}.precision"),
        "recall": scores.get(f"{stage}.recall"),
        "frames": len(frames),
        "frames_processed": sum(1 for f, item in zip(frames, shown, strict=True) if item and item.frame == f),
        "frames_without_result": sum(1 for item in shown if item is None),
    }
