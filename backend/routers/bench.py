"""The policy benchmark's latest results (`<dayu dir>/bench/policies/`), read-only, for the dashboard."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse

from backend.contracts.bench import BenchResults, PolicyBench
from backend.plane import ControlPlane, Plane
from common.errors import InvalidInput, NotFound

router = APIRouter(prefix="/api/bench", tags=["bench"])
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\.(png|json|md)$")
MAX_TEXT_BYTES = 2 * 1024 * 1024
MEDIA = {"png": "image/png", "json": "application/json", "md": "text/markdown; charset=utf-8"}


def bench_dir(plane: ControlPlane) -> Path:
    # The state dir is `<dayu dir>/backend`; benchmarks write under `<dayu dir>/bench`.
    return plane.settings.state_dir.parent / "bench" / "policies"


def _read_text(path: Path) -> str:
    if path.stat().st_size > MAX_TEXT_BYTES:
        raise InvalidInput(f"{path.name} is larger than {MAX_TEXT_BYTES} bytes")
    return path.read_text(encoding="utf-8")


@router.get(
    "/policies",
    response_model=PolicyBench,
    summary="The policy benchmark's suite (every case, each policy's figures over its seeds), table and plots",
)
async def policies(plane: Plane) -> PolicyBench:
    folder = bench_dir(plane)
    if not folder.is_dir():
        return PolicyBench(available=False)
    plots = sorted(p.name for p in folder.glob("*.png") if p.is_file() and FILE_NAME.match(p.name))
    summary = PolicyBench(available=False, plots=plots)
    errors: list[str] = []
    results = folder / "results.json"
    if results.is_file():
        summary.results_file = True
        try:
            # A full suite's file is tens of MB: parsed off the event loop.
            summary.suite = await asyncio.to_thread(plane.bench_results.load, results, plots)
        except (OSError, InvalidInput) as exc:
            errors.append(str(exc))
    try:
        if (folder / "table.md").is_file():
            summary.table = _read_text(folder / "table.md")
    except (ValueError, OSError, InvalidInput) as exc:
        errors.append(str(exc))
    summary.error = "; ".join(errors) or None
    summary.available = bool(summary.suite is not None or summary.table or plots)
    return summary


@router.get(
    "/policies/files/{name}",
    summary="One file of the policy benchmark (PNG, JSON or Markdown)",
    response_class=JSONResponse,
    responses={
        200: {
            "description": "The file, as its media type.",
            "model": BenchResults,  # the application/json variant
            "content": {
                "image/png": {"schema": {"type": "string", "format": "binary"}},
                "text/markdown": {"schema": {"type": "string"}},
            },
        }
    },
)
async def policy_file(name: str, plane: Plane) -> FileResponse:
    match = FILE_NAME.match(name)
    if match is None:
        raise InvalidInput(f"file name {name!r} is not a plain .png, .json or .md name", detail={"name": name})
    path = bench_dir(plane) / name
    if not path.is_file():
        raise NotFound(f"the policy benchmark has no file {name!r}", detail={"name": name})
    return FileResponse(path, media_type=MEDIA[match.group(1)])
