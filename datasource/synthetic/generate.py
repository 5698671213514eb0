"""Write a synthetic dataset: H.264 clips, manifest and ground truth, deterministic from the seed."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from datasource.manifest import CLIPS, GROUND_TRUTH, ClipEntry, Manifest, write_manifest
from datasource.synthetic.scene import Scene, SceneOptions

Progress = Callable[[int, int], None]
DEFAULT_DATASET = "synthetic"


class SyntheticSpec(BaseModel):
    """What to generate."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(7, description="Everything (plates, colours, arrivals, speeds) follows from it.")
    width: int = Field(1280, ge=64, le=3840, description="Frame width (even).")
    height: int = Field(720, ge=64, le=2160, description="Frame height (even).")
    fps: float = Field(30.0, gt=0, le=120)
    clips: int = Field(2, ge=1, le=100)
    frames_per_clip: int = Field(300, ge=1, le=100_000)
    faces: bool = Field(True, description="Add people whose face (scikit-image's astronaut) the face detector finds.")
    pedestrians: bool = Field(True, description="Add walking figures.")
    density: float = Field(1.0, gt=0, le=10, description="Multiplies how often objects enter.")
    speed: float = Field(1.0, gt=0, le=10, description="Multiplies how fast objects move.")
    crf: int = Field(18, ge=0, le=51, description="x264 quality (lower is better); plates stay readable at 18.")
    face_scale: tuple[float, float] = Field(
        (1.0, 1.0),
        description="Range the size of each face is drawn from, relative to the standard face (~65 px at 720p): "
        "a range makes small faces vanish first as the resolution drops.",
    )

    @model_validator(mode="after")
    def _face_range(self) -> SyntheticSpec:
        low, high = self.face_scale
        if not 0.3 <= low <= high <= 4.0:
            raise ValueError(f"face_scale must be (low, high) with 0.3 <= low <= high <= 4, got {self.face_scale}")
        return self


def _write_clip(
    path: Path, scene: Scene, frames: int, spec: SyntheticSpec, on_frame: Callable[[], None]
) -> list[dict[str, Any]]:
    truth: list[dict[str, Any]] = []
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=round(spec.fps))
        stream.width, stream.height = spec.width, spec.height
        stream.pix_fmt = "yuv420p"
        # A deterministic encoder (one thread, no wall-clock decisions) keeps the files identical per seed.
        stream.options = {"crf": str(spec.crf), "preset": "veryfast", "threads": "1"}
        stream.thread_count = 1
        for _ in range(frames):
            image, objects = scene.render()
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
            truth.append({"objects": objects})
            on_frame()
        for packet in stream.encode():
            container.mux(packet)
    return truth


def generate_dataset(out: Path, spec: SyntheticSpec, progress: Progress | None = None) -> Manifest:
    """Generate into ``out`` (created; replaced atomically when it exists)."""
    if spec.width % 2 or spec.height % 2:
        raise ValueError("width and height must be even (H.264 4:2:0)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        (tmp / CLIPS).mkdir()
        total = spec.clips * spec.frames_per_clip
        done = 0

        def tick() -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total)

        options = SceneOptions(
            width=spec.width,
            height=spec.height,
            fps=spec.fps,
            faces=spec.faces,
            pedestrians=spec.pedestrians,
            density=spec.density,
            speed=spec.speed,
            face_scale=spec.face_scale,
        )
        entries: list[ClipEntry] = []
        with (tmp / GROUND_TRUTH).open("w", encoding="utf-8") as gt:
            for number in range(spec.clips):
                name = f"clip_{number:03d}.mp4"
                scene = Scene(options, seed=spec.seed * 1000 + number)
                truth = _write_clip(tmp / CLIPS / name, scene, spec.frames_per_clip, spec, tick)
                start = number * spec.frames_per_clip
                for offset, entry in enumerate(truth):
                    gt.write(json.dumps({"frame": start + offset, **entry}, separators=(",", ":")) + "\n")
                entries.append(ClipEntry(file=name, frames=spec.frames_per_clip, start=start))
        manifest = Manifest(
            name=out.name,
            description=f"Synthetic street scenes (seed {spec.seed}): vehicles with plates, pedestrians, faces.",
            fps=spec.fps,
            width=spec.width,
            height=spec.height,
            seed=spec.seed,
            clips=entries,
            ground_truth=GROUND_TRUTH,
        )
        write_manifest(tmp, manifest)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
        return manifest
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


DEFAULT_SPEC = SyntheticSpec(seed=7, width=1280, height=720, fps=30.0, clips=2, frames_per_clip=300)


def ensure_default_dataset(
    root: Path, progress: Progress | None = None, spec: SyntheticSpec | None = None, name: str = DEFAULT_DATASET
) -> Path:
    """The default template's dataset under ``root``, generated on first call (about 3 MB, seconds)."""
    target = Path(root) / name
    if (target / "manifest.yaml").exists():
        return target
    generate_dataset(target, spec or DEFAULT_SPEC, progress or print_progress)
    return target


def print_progress(done: int, total: int) -> None:
    """A one-line progress bar on stderr."""
    if done == total or done % 25 == 0:
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\rsynthetic dataset [{'#' * filled}{'.' * (width - filled)}] {done}/{total} frames")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()
