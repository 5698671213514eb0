"""The segment body the datasource sends: one JSON header line, then the frames as JPEG (or PNG) images.

``{"source", "client", "finished", "width", "height", "fps", "format", "frames": [{"index", "timestamp",
"bytes", "truth"}]}\\n`` followed by the images back to back, each ``bytes`` long. Kept in this package
so the generator's http source decodes exactly what the service encodes.
"""

from __future__ import annotations

import json
from typing import Any

import cv2
import numpy as np

from common.errors import DecodeError

MEDIA_TYPE = "application/x-dayu-segment"
MAX_HEADER = 4 * 1024 * 1024


def encode_segment(header: dict[str, Any], images: list[np.ndarray], fmt: str = "jpeg", quality: int = 90) -> bytes:
    blobs = []
    for image in images:
        if fmt == "png":
            ok, data = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        else:
            ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise DecodeError("a frame could not be encoded")
        blobs.append(data.tobytes())
    frames = [dict(entry, bytes=len(blob)) for entry, blob in zip(header["frames"], blobs, strict=True)]
    head = json.dumps({**header, "format": fmt, "frames": frames}, separators=(",", ":")).encode()
    return head + b"\n" + b"".join(blobs)


def decode_segment(body: bytes) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Header and BGR frames of a segment body; anything malformed raises DecodeError saying what."""
    end = body.find(b"\n", 0, MAX_HEADER)
    if end < 0:
        raise DecodeError("segment body has no header line")
    try:
        header = json.loads(body[:end])
        entries = header["frames"]
        sizes = [int(e["bytes"]) for e in entries]
    except (ValueError, KeyError, TypeError) as exc:
        raise DecodeError(f"segment header is malformed: {exc}") from None
    offset = end + 1
    if offset + sum(sizes) != len(body):
        raise DecodeError(f"segment body holds {len(body) - offset} image bytes, the header says {sum(sizes)}")
    images = []
    for n, size in enumerate(sizes):
        data = np.frombuffer(body, np.uint8, size, offset)
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
        if image is None:
            raise DecodeError(f"frame {n} of the segment cannot be decoded")
        images.append(image)
        offset += size
    return header, images
