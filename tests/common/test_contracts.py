"""Typed replies through the inter-service client (``get_model``/``post_model``/``parse_reply``) with its
transport swapped for ``httpx.MockTransport``; the segment wire format both sides share."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from common.contracts.openapi import body, media
from common.contracts.processor import QueueLength
from common.contracts.scheduler import DeploymentAnswer, DeploymentRequest
from common.errors import DecodeError, TransportError
from common.segment_wire import SegmentHeader, WireFrame, decode_segment, encode_segment
from common.transport import ServiceClient

pytestmark = pytest.mark.unit


def client_answering(status: int, payload: object, seen: list[httpx.Request]) -> ServiceClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=payload)

    return ServiceClient(transport=httpx.MockTransport(answer), retries=0)


async def test_post_model_sends_the_body_as_json_and_parses_the_reply() -> None:
    seen: list[httpx.Request] = []
    async with client_answering(200, {"deployment": {"detect": ["edge1"]}, "deployment_version": 3}, seen) as client:
        answer = await client.post_model(
            "http://scheduler/deployment", DeploymentRequest(services=["detect"], nodes=["edge1"]), DeploymentAnswer
        )
    assert answer == DeploymentAnswer(deployment={"detect": ["edge1"]}, deployment_version=3)
    assert seen[0].headers["content-type"] == "application/json"
    assert json.loads(seen[0].content) == {"services": ["detect"], "nodes": ["edge1"]}


async def test_get_model_parses_the_reply() -> None:
    async with client_answering(200, {"length": 2, "capacity": 8}, []) as client:
        assert await client.get_model("http://processor/queue", QueueLength) == QueueLength(length=2, capacity=8)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"length": 2}, "capacity"),  # a field missing
        ({"length": 2, "capacity": 8, "extra": 1}, "extra"),  # a field the contract does not have
        ({"length": "many", "capacity": 8}, "length"),  # a field of the wrong type
    ],
)
async def test_a_reply_outside_the_contract_is_a_502_naming_model_and_field(payload: object, field: str) -> None:
    async with client_answering(200, payload, []) as client:
        with pytest.raises(TransportError) as caught:
            await client.get_model("http://processor/queue", QueueLength)
    assert caught.value.status_code == 502
    assert "QueueLength" in caught.value.message and field in caught.value.message


async def test_an_error_status_is_raised_before_any_parsing() -> None:
    async with client_answering(503, {"error": {"code": "overloaded", "message": "busy"}}, []) as client:
        with pytest.raises(TransportError) as caught:
            await client.get_model("http://processor/queue", QueueLength)
    assert caught.value.status == 503 and "busy" in caught.value.message


def test_body_and_media_declare_named_schemas_and_media_types() -> None:
    declared = body(QueueLength, media_types={"application/octet-stream": None})
    content = declared["requestBody"]["content"]
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/QueueLength"}
    assert content["application/octet-stream"]["schema"]["format"] == "binary"
    assert list(media("application/gzip", "export")[200]["content"]) == ["application/gzip"]


def header(count: int, fmt: str = "jpeg") -> SegmentHeader:
    frames = [WireFrame(index=i, timestamp=i / 10, truth={"objects": []} if i else None) for i in range(count)]
    return SegmentHeader(
        source="cam1", client="c", finished=False, width=32, height=24, fps=10, format=fmt, frames=frames
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_segment_round_trip(fmt: str) -> None:
    images = [np.full((24, 32, 3), 40 * i, np.uint8) for i in range(3)]
    decoded, frames = decode_segment(encode_segment(header(3, fmt), images))
    assert [f.index for f in decoded.frames] == [0, 1, 2] and decoded.format == fmt
    assert all(f.bytes > 0 for f in decoded.frames) and decoded.frames[1].truth == {"objects": []}
    assert [f.shape for f in frames] == [(24, 32, 3)] * 3
    if fmt == "png":  # lossless
        assert all(np.array_equal(a, b) for a, b in zip(images, frames, strict=True))


def test_segment_with_a_malformed_header_or_short_body_is_a_decode_error() -> None:
    body_ = encode_segment(header(2), [np.zeros((24, 32, 3), np.uint8)] * 2)
    with pytest.raises(DecodeError, match="header"):
        decode_segment(b'{"source": "cam1"}\n')
    with pytest.raises(DecodeError, match="image bytes"):
        decode_segment(body_[:-5])
    with pytest.raises(DecodeError, match="no header line"):
        decode_segment(b"no newline")
    with pytest.raises(DecodeError, match="header entries"):
        encode_segment(header(3), [np.zeros((24, 32, 3), np.uint8)])
