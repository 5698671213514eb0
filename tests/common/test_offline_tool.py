"""The offline tools' shared command line: one request file in, one reply file out, exit 2 with the reason
when the request is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from common.errors import InvalidInput
from common.offline_tool import OfflineCommand, run_offline_tool

pytestmark = pytest.mark.unit


class Square(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int


class Squared(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: int


def square(request: Square) -> Squared:
    if request.n < 0:
        raise InvalidInput("n must not be negative")
    return Squared(value=request.n * request.n)


COMMANDS: dict[str, OfflineCommand] = {"square": (Square, square)}


def run(tmp_path: Path, body: object) -> tuple[int, Path]:
    request, out = tmp_path / "request.json", tmp_path / "reply.json"
    request.write_text(json.dumps(body))
    code = run_offline_tool("tool", "a test tool", COMMANDS, ["square", "--request", str(request), "--out", str(out)])
    return code, out


def test_a_request_is_answered_in_the_reply_file(tmp_path: Path) -> None:
    code, out = run(tmp_path, {"n": 7})
    assert code == 0
    assert Squared.model_validate_json(out.read_text()) == Squared(value=49)


def test_a_request_outside_its_model_exits_2_naming_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(tmp_path, {"n": 7, "extra": 1})
    assert code == 2
    assert not out.exists()
    assert "not a Square" in capsys.readouterr().err


def test_a_refused_request_exits_2_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(tmp_path, {"n": -1})
    assert code == 2
    assert not out.exists()
    assert capsys.readouterr().err.strip() == "n must not be negative"


def test_an_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        run_offline_tool("tool", "a test tool", COMMANDS, ["cube", "--request", "r", "--out", "o"])
    assert exited.value.code == 2
