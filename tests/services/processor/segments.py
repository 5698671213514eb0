"""Real MP4 segments written with cv2.VideoWriter, and tasks pointing at them, for the runtime tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from skimage import data as skdata

from common.dag import DagSpec, ServiceType, StageSpec, build_dag
from common.task import START, Payload, Task

CATALOG = {
    "face-detection": ServiceType(input="frame", output="bbox"),
    "passthrough": ServiceType(input="frame", output="frame"),
}
FACE_AT = (200, 100)  # where the astronaut's 256x256 crop is pasted (x, y)


def astronaut_scene(width: int = 640, height: int = 480, shift: int = 0) -> np.ndarray:
    """A flat grey scene with the astronaut's head and shoulders (a real face) pasted in."""
    scene = np.full((height, width, 3), 90, np.uint8)
    astronaut: np.ndarray = skdata.astronaut()  # type: ignore[no-untyped-call]
    face = cv2.cvtColor(astronaut[0:256, 128:384], cv2.COLOR_RGB2BGR)
    x, y = FACE_AT[0] + shift, FACE_AT[1]
    scene[y : y + 256, x : x + 256] = face
    return scene


def write_segment(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write mp4v here"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def face_segment(directory: Path, name: str = "face.mp4", frames: int = 4) -> Path:
    return write_segment(directory / name, [astronaut_scene(shift=4 * i) for i in range(frames)])


def plain_segment(
    directory: Path, name: str = "plain.mp4", frames: int = 3, size: tuple[int, int] = (160, 120)
) -> Path:
    width, height = size
    images = [np.full((height, width, 3), 40 * (i + 1), np.uint8) for i in range(frames)]
    return write_segment(directory / name, images)


def stage_task(service: str, file_name: str, *, source_id: str = "cam1", task_id: int = 0, frames: int = 4) -> Task:
    """A task sitting at its only service stage, as the controller hands it to a processor."""
    dag = build_dag(DagSpec(stages=[StageSpec(name="detect", service=service)]), CATALOG)
    dag[START].done = True
    dag["detect"].node = "edge1"
    return Task(
        source_id=source_id,
        task_id=task_id,
        source_node="edge1",
        dag=dag,
        cursor="detect",
        came_from=START,
        payload=Payload(file_name=file_name, frame_indices=list(range(100, 100 + frames))),
    )
