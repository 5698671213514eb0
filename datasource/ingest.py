"""A video file added as a dataset: received under a size limit, checked by decoding every frame, stored as
H.264 MP4 (the form both the HTTP player and the RTSP server serve) with a manifest that says it has no
ground truth.

Nothing is written under the dataset root until the file has passed every check: the upload lands in a
hidden work directory of the root and becomes ``<root>/<name>/`` with one rename.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import av
import numpy as np

from common.contracts.datasource import DatasetAdded
from common.errors import Conflict, DecodeError, InvalidInput, PayloadTooLarge
from datasource.manifest import CLIPS, ClipEntry, Manifest, probe_clip, write_manifest

DATASET_NAME = r"^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$"
MP4_FORMATS = {"mov", "mp4", "m4a", "3gp", "3g2", "mj2"}
WORK_PREFIX = ".adding-"


async def receive(chunks: AsyncIterator[bytes], target: Path, limit: int) -> int:
    """Write the body to ``target``; more than ``limit`` bytes is refused (413) and the file removed."""
    size = 0
    try:
        with target.open("wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"the video is larger than the {limit}-byte limit", detail={"limit": limit})
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if size == 0:
        target.unlink(missing_ok=True)
        raise InvalidInput("the upload is empty: send the video file as the request body")
    return size


def _reason(exc: Exception) -> str:
    """FFmpeg's words without the file name (the upload's temporary path is the service's own business)."""
    text = getattr(exc, "strerror", None)
    return str(text) if text else type(exc).__name__


def _transcode_or_check(upload: Path, clip: Path, max_frames: int) -> int:
    """Decode every frame of ``upload`` (a file that does not decode to the end is refused); write ``clip`` as
    H.264 MP4, copying the file when it is one already. Returns the decoded frame count."""
    try:
        container = av.open(str(upload))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise DecodeError(f"not a video file FFmpeg can read: {_reason(exc)}") from None
    with container:
        if not container.streams.video:
            raise DecodeError("the file holds no video stream")
        stream = container.streams.video[0]
        declared = int(stream.frames or 0)
        keep = bool(MP4_FORMATS & set(container.format.name.split(","))) and stream.codec_context.name == "h264"
        fps = float(stream.average_rate or 0) or 30.0
        writer = None if keep else _Writer(clip, fps)
        count = 0
        try:
            for frame in container.decode(stream):
                count += 1
                if count > max_frames:
                    raise PayloadTooLarge(f"the video has more than {max_frames} frames", detail={"limit": max_frames})
                if writer is not None:
                    writer.add(frame.to_ndarray(format="bgr24"))
        except av.error.FFmpegError as exc:
            raise DecodeError(f"the video is corrupt after frame {count}: {_reason(exc)}") from None
        finally:
            if writer is not None:
                writer.close()
    if count == 0:
        raise DecodeError("the file holds no decodable frame")
    if declared and count < declared:
        raise DecodeError(f"the video is truncated or corrupt: its header says {declared} frames, {count} decode")
    if keep:
        shutil.copyfile(upload, clip)
    return count


class _Writer:
    """libx264 at a near-transparent quality; sizes are made even for 4:2:0."""

    def __init__(self, path: Path, fps: float) -> None:
        self.container = av.open(str(path), mode="w")
        self.fps = fps
        self.stream: av.video.stream.VideoStream | None = None

    def add(self, image: np.ndarray) -> None:
        height, width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
        if self.stream is None:
            if width < 16 or height < 16:
                raise DecodeError(f"frames of {image.shape[1]}x{image.shape[0]} are too small to serve")
            self.stream = self.container.add_stream("libx264", rate=round(self.fps) or 30)
            self.stream.width, self.stream.height = width, height
            self.stream.pix_fmt = "yuv420p"
            self.stream.options = {"crf": "18", "preset": "veryfast"}
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:height, :width]), format="bgr24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        if self.stream is not None:
            for packet in self.stream.encode():
                self.container.mux(packet)
        self.container.close()


def add_video(
    root: Path, name: str, upload: Path, *, file_name: str, description: str, max_frames: int, size: int
) -> DatasetAdded:
    """Make ``<root>/<name>/`` from the received ``upload`` (removed in every case)."""
    work = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{name}-", dir=root))
    try:
        (work / CLIPS).mkdir()
        clip = work / CLIPS / f"{name}.mp4"
        decoded = _transcode_or_check(upload, clip, max_frames)
        frames, fps, width, height = probe_clip(clip)
        manifest = Manifest(
            name=name,
            description=description or f"{file_name}: a real video without ground truth",
            fps=fps,
            width=width,
            height=height,
            clips=[ClipEntry(file=clip.name, frames=min(frames, decoded), start=0)],
            ground_truth=None,
        )
        write_manifest(work, manifest)
        target = root / name
        if target.exists():
            raise Conflict(f"dataset {name!r} exists already; pick another name", detail={"dataset": name})
        work.rename(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        upload.unlink(missing_ok=True)
    return DatasetAdded(
        name=name,
        file_name=file_name,
        bytes=size,
        frames=manifest.total_frames,
        fps=fps,
        width=width,
        height=height,
        ground_truth=False,
    )
