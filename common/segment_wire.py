"""The segment body a simulated camera sends: one JSON header line, then the frames as JPEG (or PNG) images.

The header is a :class:`SegmentHeader`; its ``frames`` give each image's ``bytes`` length, and the images
follow the header line back to back in that order. The datasource encodes it and the generator's
``http`` source decodes it, both with this module.
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np
from pydantic import Field, ValidationError

from common.contracts.base import Contract
from common.errors import DecodeError

MEDIA_TYPE = "application/x-dayu-segment"
MAX_HEADER = 4 * 1024 * 1024
ImageFormat = Literal["jpeg", "png"]


class WireFrame(Contract):
    index: int = Field(ge=0, description="Position of the frame in the source.")
    timestamp: float = Field(ge=0, description="Source time of the frame, seconds.")
    truth: dict[str, Any] | None = Field(None, description="Ground truth of the frame, when the dataset has it.")
    bytes: int = Field(0, ge=0, description="Length of the frame's image after the header (set when encoding).")


class SegmentHeader(Contract):
    """The header line of a segment body."""

    source: str
    client: str = Field(description="The reader whose cursor these frames advanced.")
    finished: bool = Field(description="A `once` source has played out: no frames will follow.")
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    fps: float = Field(gt=0)
    format: ImageFormat = "jpeg"
    frames: list[WireFrame]


def encode_segment(header: SegmentHeader, images: list[np.ndarray], quality: int = 90) -> bytes:
    """The body for ``header`` and its images (one per entry of ``header.frames``, in the header's format)."""
    blobs = []
    for image in images:
        if header.format == "png":
            ok, data = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        else:
            ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise DecodeError("a frame could not be encoded")
        blobs.append(data.tobytes())
    if len(blobs) != len(header.frames):
        raise DecodeError(f"{len(blobs)} images for {len(header.frames)} header entries")
    frames = [entry.model_copy(update={"bytes": len(blob)}) for entry, blob in zip(header.frames, blobs, strict=True)]
    head = header.model_copy(update={"frames": frames}).model_dump_json().encode()
    return head + b"\n" + b"".join(blobs)


def split_segment(body: bytes) -> tuple[SegmentHeader, list[np.ndarray]]:
    """Header and the still encoded images of a segment body (views into ``body``, in the header's order);
    anything malformed raises DecodeError saying what. :func:`decode_image` makes a frame of one."""
    end = body.find(b"\n", 0, MAX_HEADER)
    if end < 0:
        raise DecodeError("segment body has no header line")
    try:
        header = SegmentHeader.model_validate_json(body[:end])
    except ValidationError as exc:
        raise DecodeError(f"segment header is malformed: {exc.errors()[0]['msg']}") from None
    sizes = [entry.bytes for entry in header.frames]
    offset = end + 1
    if offset + sum(sizes) != len(body):
        raise DecodeError(f"segment body holds {len(body) - offset} image bytes, the header says {sum(sizes)}")
    blobs = []
    for size in sizes:
        blobs.append(np.frombuffer(body, np.uint8, size, offset))
        offset += size
    return header, blobs


def decode_image(blob: np.ndarray, name: str) -> np.ndarray:
    """The BGR frame of one encoded image of a segment body; ``name`` says which in the error."""
    image = cv2.imdecode(blob, cv2.IMREAD_COLOR)
    if image is None:
        raise DecodeError(f"{name} cannot be decoded")
    return image


def decode_segment(body: bytes) -> tuple[SegmentHeader, list[np.ndarray]]:
    """Header and BGR frames of a segment body; anything malformed raises DecodeError saying what."""
    header, blobs = split_segment(body)
    return header, [decode_image(blob, f"frame {n} of the segment") for n, blob in enumerate(blobs)]
