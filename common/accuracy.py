"""Accuracy of a task's results against the ground truth its frames carry.

Ground truth (``task.payload.ground_truth``) has one entry per frame, in ``frame_indices`` order, each
``{"objects": [{"class", "box": [x1, y1, x2, y2], "text"?}]}`` in SOURCE pixels. Stage results are
:class:`common.results.SegmentResult` models whose boxes are in PROCESSED-frame pixels, so they are scaled
by ``raw_meta`` over each frame's processed size before matching. A result names the classes its
application detects (else the labels it output are its classes): truth objects of other classes are not
its to find.

Per scored stage: detection precision, recall and F1 at IoU 0.5 (greedy one-to-one matching by IoU,
per class); for stages that read text, exact-match rate and character accuracy over the truth texts
(a text whose box was missed counts as wrong). ``accuracy`` summarises the stages that feed ``_end``.
Truth objects marked ``"ignore": true`` (cut by the frame edge) are "don't care" regions: a prediction
lying mostly inside one is neither a hit nor a false positive, and missing one is not a miss.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from common.results import FrameResult, SegmentResult
from common.task import END, SENTINELS, Task

Box = Sequence[float]
IOU_THRESHOLD = 0.5


def iou(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def match_boxes(preds: Sequence[Box], truths: Sequence[Box], threshold: float = IOU_THRESHOLD) -> list[tuple[int, int]]:
    """One-to-one (pred, truth) pairs with IoU >= threshold, taken greedily from the best IoU down."""
    pairs = [(iou(p, t), i, j) for i, p in enumerate(preds) for j, t in enumerate(truths)]
    pairs = sorted((pair for pair in pairs if pair[0] >= threshold), reverse=True)
    used_p: set[int] = set()
    used_t: set[int] = set()
    matched: list[tuple[int, int]] = []
    for _, i, j in pairs:
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
            matched.append((i, j))
    return matched


def f1_score(tp: int, fp: int, fn: int) -> float:
    """F1 from counts; nothing to find and nothing found is a perfect score."""
    if tp + fp + fn == 0:
        return 1.0
    return 2 * tp / (2 * tp + fp + fn)


def f1_at_iou(preds: Sequence[Box], truths: Sequence[Box], threshold: float = IOU_THRESHOLD) -> float:
    """F1 of one frame's predicted boxes against its truth boxes at the IoU threshold."""
    tp = len(match_boxes(preds, truths, threshold))
    return f1_score(tp, len(preds) - tp, len(truths) - tp)


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def char_accuracy(pred: str, truth: str) -> float:
    """1 - edit distance / truth length, floored at 0 (an empty truth is matched only by an empty read)."""
    if not truth:
        return 1.0 if not pred else 0.0
    return max(0.0, 1.0 - edit_distance(pred, truth) / len(truth))


def _truth_objects(entry: Any, classes: Iterable[str]) -> list[dict[str, Any]]:
    wanted = set(classes)
    objects = entry.get("objects", []) if isinstance(entry, dict) else []
    return [o for o in objects if isinstance(o, dict) and o.get("class") in wanted and len(o.get("box", ())) == 4]


def _inside_any(box: Box, regions: Sequence[Box]) -> bool:
    """True when at least half of ``box`` lies in one "don't care" region."""
    area = max((box[2] - box[0]) * (box[3] - box[1]), 1e-9)
    for r in regions:
        w = min(box[2], r[2]) - max(box[0], r[0])
        h = min(box[3], r[3]) - max(box[1], r[1])
        if w > 0 and h > 0 and w * h / area >= 0.5:
            return True
    return False


@dataclass
class _Tally:
    """Counts over the frames of one stage's result."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    exact: list[float] = field(default_factory=list)
    """Per truth text: 1 when read exactly, else 0."""
    chars: list[float] = field(default_factory=list)
    """Per truth text: the character accuracy of what was read."""

    def scores(self, is_text: bool) -> dict[str, float]:
        tp, fp, fn = self.tp, self.fp, self.fn
        scores = {
            "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0,
            "f1": f1_score(tp, fp, fn),
        }
        if is_text:
            scores["text_exact"] = sum(self.exact) / len(self.exact) if self.exact else 1.0
            scores["char_accuracy"] = sum(self.chars) / len(self.chars) if self.chars else 1.0
        return scores


def _classes(result: SegmentResult) -> tuple[str, ...]:
    """The classes the result is scored on: those its application declares, else the labels it output."""
    if result.classes:
        return tuple(result.classes)
    return tuple(sorted({o.label for f in result.frames for o in f.objects}))


def _truth_slots(task: Task, result: SegmentResult) -> Iterator[tuple[int, FrameResult]]:
    """(position in the ground truth, frame) of each result frame that has a truth entry, each entry once."""
    size = len(task.payload.ground_truth or [])
    position = {index: n for n, index in enumerate(task.payload.frame_indices)}
    seen: set[int] = set()
    for n, frame in enumerate(result.frames):
        slot = position.get(frame.frame_index, n) if frame.frame_index is not None else n
        if slot < size and slot not in seen:
            seen.add(slot)
            yield slot, frame


def _source_boxes(task: Task, frame: FrameResult) -> list[tuple[float, float, float, float]]:
    """The frame's boxes scaled from its processed size to the source's (the truth's pixels)."""
    raw_w, raw_h = task.raw_meta.width, task.raw_meta.height
    sx = raw_w / frame.width if raw_w and frame.width else 1.0
    sy = raw_h / frame.height if raw_h and frame.height else 1.0
    return [(o.box[0] * sx, o.box[1] * sy, o.box[2] * sx, o.box[3] * sy) for o in frame.objects]


def _tally_frame(
    tally: _Tally, frame: FrameResult, boxes: Sequence[Box], entry: Any, classes: Iterable[str], is_text: bool
) -> None:
    """Adds one frame's matches to ``tally``: hits, false positives outside the "don't care" regions, misses
    and, for a text stage, what was read of each truth text."""
    every = _truth_objects(entry, classes)
    objects = [o for o in every if not o.get("ignore")]
    ignored = [o["box"] for o in every if o.get("ignore")]
    pairs = match_boxes(boxes, [o["box"] for o in objects])
    matched = {i for i, _ in pairs}
    tally.tp += len(pairs)
    tally.fp += sum(1 for i, b in enumerate(boxes) if i not in matched and not _inside_any(b, ignored))
    tally.fn += len(objects) - len(pairs)
    if is_text:
        read = {j: (frame.objects[i].text or "").strip() for i, j in pairs}
        for j, obj in enumerate(objects):
            want = str(obj.get("text") or "")
            got = read.get(j)
            tally.exact.append(1.0 if got == want else 0.0)
            tally.chars.append(char_accuracy(got, want) if got is not None else 0.0)


def _score_stage(task: Task, result: SegmentResult) -> dict[str, float] | None:
    """Precision, recall and F1 (and for a text stage its text scores) of one stage's result; None when it
    has no class to score or no frame with ground truth."""
    truth = task.payload.ground_truth or []
    classes = _classes(result)
    if not classes:
        return None
    is_text = result.reads_text or any(o.text is not None for f in result.frames for o in f.objects)
    tally = _Tally()
    scored = 0
    for slot, frame in _truth_slots(task, result):
        _tally_frame(tally, frame, _source_boxes(task, frame), truth[slot], classes, is_text)
        scored += 1
    return tally.scores(is_text) if scored else None


def score_task(task: Task) -> dict[str, float] | None:
    """Scores of every stage that has results and ground truth, as ``{"<stage>.<metric>": value}``,
    plus ``accuracy`` (text exact-match for text stages, else F1; mean over the stages feeding
    ``_end``). None when the task carries no ground truth or no stage could be scored."""
    if not task.payload.ground_truth:
        return None
    scores: dict[str, float] = {}
    headline: dict[str, float] = {}
    for name, stage in task.dag.items():
        if name in SENTINELS or not stage.done or stage.result is None:
            continue
        stage_scores = _score_stage(task, stage.result)
        if stage_scores is None:
            continue
        for metric, value in stage_scores.items():
            scores[f"{name}.{metric}"] = round(value, 4)
        headline[name] = stage_scores.get("text_exact", stage_scores["f1"])
    if not headline:
        return None
    final = [headline[n] for n in task.dag[END].prev if n in headline] or list(headline.values())
    scores["accuracy"] = round(sum(final) / len(final), 4)
    return scores
