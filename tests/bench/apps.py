"""Application figures for ``make bench``: ms per frame at 360p/720p/1080p, accuracy on the synthetic set,
and processor memory; the golden labeller's CPU per profiled segment; and the honesty check of golden
labels against ground truth. Each application (``ALIAS`` or ``ALIAS:MODEL`` for a model knob) is measured
in its own process (``python -m tests.bench.apps ALIAS DATASET``) so its peak RSS is its own. Fills
``results["apps"]``.

``python -m tests.bench.apps honesty`` prints the honesty check alone as a markdown table (accuracy
figures only: they do not depend on how loaded the machine is): for each application and golden model,
a grid of configurations derived from golden segments of the synthetic set exactly as the labeller
derives them, each scored twice, against the golden model's detections and against ground truth, with
Spearman's rank correlation and the mean absolute error between the two.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench import guard

APPS = [
    "text-detection",
    "text-recognition",
    "pedestrian-detection",
    "pedestrian-detection:ssdlite",
    "plate-detection",
    "face-detection",
    "face-detection:blazeface",
]
GOLDEN_MODELS = {"face-detection": ["blazeface", "haar"], "pedestrian-detection": ["ssdlite", "hog"]}
"""Applications with a golden labeller, and the models tried as golden (the most accurate first)."""
GRID = [(res, fps) for res in ("360p", "540p", "720p", "1080p") for fps in (5.0, 10.0, 30.0)]
SEGMENT = 30  # golden frames per labelled segment: one second at 30 fps
HEIGHTS = [360, 720, 1080]
SOURCE = (1920, 1080)
FRAMES = 8
ROUNDS = 3
THREADS = 2


def _dataset(root: Path) -> Path:
    from datasource.synthetic import SyntheticSpec, generate_dataset

    spec = SyntheticSpec(seed=11, width=SOURCE[0], height=SOURCE[1], fps=30, clips=1, frames_per_clip=40)
    generate_dataset(root / "bench", spec)
    return root / "bench"


def _frames(dataset: Path) -> tuple[list[Any], list[dict[str, Any]], list[int]]:
    import cv2

    picks = list(range(0, 40, 40 // FRAMES))[:FRAMES]
    lines = (dataset / "ground_truth.jsonl").read_text().splitlines()
    truth = [{"objects": json.loads(lines[i])["objects"]} for i in picks]
    cap = cv2.VideoCapture(str(dataset / "clips" / "clip_000.mp4"))
    frames = []
    for i in range(40):
        ok, frame = cap.read()
        if ok and i in picks:
            frames.append(frame)
    cap.release()
    return frames, truth, picks


def _score(
    alias: str, results: list[Any], truth: list[dict[str, Any]], picks: list[int], upstream: Any
) -> float | None:
    from common.accuracy import score_task
    from common.registry import REGISTRY
    from common.results import SegmentResult
    from common.task import END, START, Payload, RawMeta, Stage, Task

    last = "stage"
    dag = {START: Stage(name=START, service=START, next=["up" if upstream else last], done=True)}
    if upstream is not None:
        dag["up"] = Stage(name="up", service="up", prev=[START], next=[last], done=True, result=upstream)
    dag[last] = Stage(name=last, service=last, prev=["up" if upstream else START], next=[END], done=True)
    app = REGISTRY.get("application", alias)
    dag[last].result = SegmentResult(
        application=alias, classes=list(app.classes), reads_text=app.reads_text, frames=results
    )
    dag[END] = Stage(name=END, service=END, prev=[last])
    task = Task(
        source_id="bench",
        task_id=0,
        source_node="bench",
        dag=dag,
        raw_meta=RawMeta(width=SOURCE[0], height=SOURCE[1]),
        payload=Payload(frame_indices=picks, ground_truth=truth),
    )
    scores = score_task(task)
    return None if scores is None else scores.get("accuracy")


def measure(name: str, dataset: Path) -> dict[str, Any]:
    """Runs in the child process. ``name``: an alias, or ``alias:model`` for one model of a model knob."""
    import resource

    import cv2

    import services.processor.application  # noqa: F401
    from common.registry import REGISTRY
    from common.results import SegmentResult

    alias, _, model = name.partition(":")
    frames, truth, picks = _frames(dataset)
    app = REGISTRY.create("application", alias, {"threads": THREADS, **({"model": model} if model else {})})
    app.load()
    detector = None
    if alias == "text-recognition":
        detector = REGISTRY.create("application", "text-detection", {"threads": THREADS})
        detector.load()
    out: dict[str, Any] = {"ms_per_frame": {}, "accuracy": {}}
    for height in HEIGHTS:
        width = round(height * 16 / 9 / 2) * 2
        scaled = [cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames]
        upstream = (
            SegmentResult(application="text-detection", frames=detector.process(scaled, None)) if detector else None
        )
        for _ in range(2):  # warm-up: new input shapes
            app.process(scaled, upstream)
        started = time.perf_counter()
        for _ in range(ROUNDS):
            results = app.process(scaled, upstream)
        ms = (time.perf_counter() - started) * 1000 / (ROUNDS * len(scaled))
        out["ms_per_frame"][f"{height}p"] = round(ms, 2)
        accuracy = _score(alias, results, truth, picks, upstream)
        out["accuracy"][f"{height}p"] = None if accuracy is None else round(accuracy, 3)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["threads"] = THREADS
    if alias in GOLDEN_MODELS:
        out["real_clips"] = real_clip_figures(app, model or None)
        if model == GOLDEN_MODELS[alias][0]:
            out["labeller"] = labeller_cost(app, frames)
    return out


def real_clip_figures(app: Any, model: str | None) -> dict[str, Any]:
    """ms per frame at each real clip's own size, and F1 against the golden model on the same frames (the clips
    have no ground truth: accuracy there is relative to golden)."""
    import cv2

    from datasource.clips import real_clips
    from services.processor.labeller import score

    golden = GOLDEN_MODELS[app.alias][0]
    out: dict[str, Any] = {}
    for name, clip in sorted(real_clips().items()):
        if name not in ("car-detection", "bikes"):
            continue
        capture = cv2.VideoCapture(str(clip.path))
        frames: list[Any] = []
        while len(frames) < 200:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
        capture.release()
        picks = frames[:: max(1, len(frames) // FRAMES)][:FRAMES]
        app.process_with(model, picks, None)  # warm-up: a new input shape
        started = time.perf_counter()
        results = app.process_with(model, picks, None)
        ms = (time.perf_counter() - started) * 1000 / len(picks)
        labels = app.process_with(golden, picks, None)
        f1 = score([r.objects for r in results], [g.objects for g in labels])[0]
        out[name] = {
            "size": f"{picks[0].shape[1]}x{picks[0].shape[0]}",
            "ms_per_frame": round(ms, 2),
            "f1_vs_golden": round(f1, 3),
            "detections": sum(len(r.objects) for r in results),
            "golden_detections": sum(len(g.objects) for g in labels),
        }
    return out


def labeller_cost(app: Any, frames: list[Any]) -> dict[str, Any]:
    """CPU of one labelled segment: chameleon's knob-at-a-time candidates on a golden 1080p segment."""
    from common.golden import Knobs
    from services.processor.labeller import detector_of, label

    golden = Knobs(resolution="1080p", fps=30, buffer_size=len(frames), model=GOLDEN_MODELS[app.alias][0])
    candidates = [golden] + [golden.model_copy(update={"resolution": r}) for r in ("360p", "480p", "540p", "720p")]
    candidates += [golden.model_copy(update={"fps": f}) for f in (1.0, 5.0, 10.0, 15.0, 20.0, 25.0)]
    label(frames, golden, candidates, detector_of(app))  # warm-up: new input shapes
    report = label(frames, golden, candidates, detector_of(app))
    return {
        "cpu_s_per_segment": report.cpu_s,
        "frames": report.frames,
        "candidates": len(candidates),
        "golden_model_s": report.golden_model_s,
    }


def _spearman(a: list[float], b: list[float]) -> float | None:
    """Spearman's rank correlation (average ranks for ties); None when either side is constant."""

    def ranks(values: list[float]) -> list[float]:
        order = sorted(range(len(values)), key=lambda i: values[i])
        out = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for k in range(i, j + 1):
                out[order[k]] = (i + j) / 2
            i = j + 1
        return out

    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    va = sum((x - ma) ** 2 for x in ra)
    vb = sum((y - mb) ** 2 for y in rb)
    return None if va == 0 or vb == 0 else cov / (va * vb) ** 0.5


def honesty(root: Path) -> list[dict[str, Any]]:
    """Golden-labelled F1 against ground-truth F1 per application, golden model and configuration."""
    import cv2

    import services.processor.application  # noqa: F401
    from common.golden import Knobs
    from common.registry import REGISTRY
    from common.results import FrameResult
    from datasource.synthetic import SyntheticSpec, generate_dataset
    from services.processor.labeller import derive, detector_of, score, shown_by

    spec = SyntheticSpec(
        seed=11, width=1920, height=1080, fps=30, clips=2, frames_per_clip=150, density=2.0, face_scale=(0.5, 1.5)
    )
    out = generate_dataset(root / "honesty", spec)
    lines = (root / "honesty" / "ground_truth.jsonl").read_text().splitlines()
    truth = [json.loads(line) for line in lines]
    segments = []  # (frames, truth entries, source frame indices)
    offset = 0
    for clip in out.clips:
        cap = cv2.VideoCapture(str(root / "honesty" / "clips" / clip.file))
        frames = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
        cap.release()
        # From the third second on: the scene starts empty and fills as objects walk in.
        for start in range(2 * SEGMENT, len(frames) - SEGMENT + 1, SEGMENT):
            picks = list(range(start, start + SEGMENT))
            entries = [{"objects": truth[offset + i]["objects"]} for i in picks]
            segments.append((frames[start : start + SEGMENT], entries, picks))
        offset += len(frames)
    rows = []
    work = root / "work"
    work.mkdir(exist_ok=True)
    for alias, models in GOLDEN_MODELS.items():
        app = REGISTRY.create("application", alias, {"threads": THREADS})
        detect = detector_of(app)
        classes = type(app).classes
        for model in models:
            golden = Knobs(resolution="1080p", fps=30, buffer_size=SEGMENT, model=model)
            labelled: dict[tuple[str, float], list[float]] = {k: [] for k in GRID}
            true: dict[tuple[str, float], list[float]] = {k: [] for k in GRID}
            golden_true: list[float] = []
            used = 0
            for frames, entries, picks in segments:
                present = sum(
                    1 for e in entries for o in e["objects"] if o.get("class") in classes and not o.get("ignore")
                )
                if present == 0:
                    continue  # nothing to find: every configuration would score 1.0 both ways
                used += 1
                # The golden segment as the generator sends it: encoded at the golden knobs, decoded by the processor.
                _, golden_frames, _ = derive(frames, 30, golden.model_copy(update={"model": None}), work)
                labels = [list(r.objects) for r in detect(model, golden_frames)]
                h, w = golden_frames[0].shape[:2]
                golden_true.append(
                    _score(alias, [FrameResult(width=w, height=h, objects=o) for o in labels], entries, picks, None)
                    or 0.0
                )
                for res, fps in GRID:
                    knobs = golden.model_copy(update={"resolution": res, "fps": fps})
                    shown, _, _, _ = shown_by(golden_frames, golden, knobs, detect, work)
                    labelled[(res, fps)].append(score(shown, labels)[0])
                    results = [FrameResult(width=w, height=h, objects=o) for o in shown]
                    true[(res, fps)].append(_score(alias, results, entries, picks, None) or 0.0)
            lab = [sum(labelled[k]) / len(labelled[k]) for k in GRID]
            tru = [sum(true[k]) / len(true[k]) for k in GRID]
            rows.append(
                {
                    "application": alias,
                    "golden_model": model,
                    "golden_f1_vs_truth": round(sum(golden_true) / len(golden_true), 3),
                    "spearman": None if (rho := _spearman(lab, tru)) is None else round(rho, 3),
                    "mae": round(sum(abs(a - b) for a, b in zip(lab, tru, strict=True)) / len(GRID), 3),
                    "segments": used,
                    "grid": {
                        f"{r}@{f:g}": [round(a, 3), round(b, 3)] for (r, f), a, b in zip(GRID, lab, tru, strict=True)
                    },
                }
            )
    return rows


def honesty_markdown(rows: list[dict[str, Any]]) -> str:
    head = "| application | golden model | golden model's F1 vs truth | Spearman rho | MAE |\n|---|---|---|---|---|\n"
    body = "".join(
        f"| {r['application']} | {r['golden_model']} | {r['golden_f1_vs_truth']:.3f} | "
        f"{'n/a' if r['spearman'] is None else format(r['spearman'], '.3f')} | {r['mae']:.3f} |\n"
        for r in rows
    )
    grid = "\n| configuration | " + " | ".join(f"{r['application']} / {r['golden_model']}" for r in rows) + " |\n"
    grid += "|---|" + "---|" * len(rows) + "\n"
    for key in rows[0]["grid"]:
        grid += f"| {key} | " + " | ".join(f"{r['grid'][key][0]:.2f} / {r['grid'][key][1]:.2f}" for r in rows) + " |\n"
    return head + body + grid


def run(results: dict[str, Any]) -> None:
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="dayu-bench-apps-") as tmp:
        started = time.perf_counter()
        dataset = _dataset(Path(tmp))
        figures["_dataset"] = {
            "source": f"{SOURCE[0]}x{SOURCE[1]}",
            "frames": FRAMES,
            "seconds": round(time.perf_counter() - started, 1),
        }
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        for alias in APPS:
            try:
                done = guard.run([sys.executable, "-m", "tests.bench.apps", alias, str(dataset)], timeout=600, env=env)
            except subprocess.TimeoutExpired:
                figures[alias] = {"error": "timed out after 600 s"}
                continue
            if done.returncode != 0:
                figures[alias] = {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
                continue
            figures[alias] = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"apps: {alias}: {figures[alias]}", file=sys.stderr)
        try:
            done = guard.run([sys.executable, "-m", "tests.bench.apps", "honesty", "--json"], timeout=1800, env=env)
            figures["_honesty"] = (
                json.loads(done.stdout.strip().splitlines()[-1])
                if done.returncode == 0
                else {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
            )
        except subprocess.TimeoutExpired:
            figures["_honesty"] = {"error": "timed out after 1800 s"}
    figures["_notes"] = (
        "CPU only (onnxruntime, OpenCV); ms per frame over a segment of 8 frames after warm-up; accuracy = F1 at "
        "IoU 0.5 (text-recognition: exact text match) against the synthetic ground truth; the tensorrt runtime and "
        "yolo-onnx (no real YOLO export is shipped) are not measured here; ALIAS:MODEL rows are one model of the "
        "application's model knob; labeller = CPU seconds of one golden-labelled 8-frame 1080p segment with 11 "
        "candidates (the golden model's pass included); real_clips = ms per frame on 8 frames of each real clip "
        "at its own size and F1 against the golden model there (no ground truth); _honesty = golden-labelled vs "
        "ground-truth F1"
    )
    results["apps"] = figures


if __name__ == "__main__":
    if sys.argv[1] == "honesty":
        with tempfile.TemporaryDirectory(prefix="dayu-honesty-") as tmp:
            table = honesty(Path(tmp))
        print(json.dumps(table) if "--json" in sys.argv else honesty_markdown(table))
    else:
        print(json.dumps(measure(sys.argv[1], Path(sys.argv[2]))))
