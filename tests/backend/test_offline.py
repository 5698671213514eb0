"""The runtime components' offline tools as the control plane runs them (``backend/offline.py``): a request
the tool refuses comes back as a ConfigError with the tool's own reason, not as a crash or a guess."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.offline import PROCESSOR, SCHEDULER, run_tool
from common.contracts.offline import AwstreamGrid, AwstreamGridRequest, ProfileReply, ProfileRequest
from common.errors import ConfigError, Unavailable
from common.task import Meta

pytestmark = pytest.mark.integration


def test_a_refused_request_is_a_config_error_with_the_tools_reason(tmp_path: Path) -> None:
    request = ProfileRequest(
        application={"alias": "face-detection"},
        video=str(tmp_path / "missing.mp4"),
        frames=2,
        resolutions=["360p"],
        runs=1,
    )
    with pytest.raises(ConfigError, match=r"cannot read frames from .*missing\.mp4"):
        run_tool(PROCESSOR, "profile", request, ProfileReply)


def test_a_reply_is_parsed_into_the_contract() -> None:
    params = {"ladders": {"resolution": ["360p", "720p"], "fps": [5.0, 15.0]}}
    grid = run_tool(SCHEDULER, "awstream-grid", AwstreamGridRequest(params=params, startup=Meta()), AwstreamGrid)
    assert {(k.resolution, k.fps) for k in grid.candidates} == {(r, f) for r in ("360p", "720p") for f in (5.0, 15.0)}
    assert grid.golden.resolution == "720p"


def test_a_tool_past_its_time_is_ended_and_said_so() -> None:
    # No interpreter starts and imports a component in 10 ms: load can only make the tool later.
    request = AwstreamGridRequest(params={"ladders": {"resolution": ["360p"], "fps": [5.0]}}, startup=Meta())
    with pytest.raises(Unavailable, match=r"ran past 0 s and was ended"):
        run_tool(SCHEDULER, "awstream-grid", request, AwstreamGrid, timeout_s=0.01)
