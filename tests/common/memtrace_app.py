"""``python -m tests.common.memtrace_app``: a component built by ``create_service`` whose one route keeps
what it allocates, so a test can look for that allocation site in two memory snapshots of the process."""

from __future__ import annotations

from fastapi import APIRouter

from common.config import ServiceSettings
from common.listen import serve
from common.service import create_service

CHUNK_BYTES = 64 * 1024
held: list[bytearray] = []
router = APIRouter()


def hold_chunk() -> int:
    held.append(bytearray(CHUNK_BYTES))  # the allocation site the test expects at the top of the diff
    return len(held)


@router.post("/grow")
async def grow() -> dict[str, int]:
    return {"held": hold_chunk()}


def main() -> None:
    settings = ServiceSettings.from_env()
    serve(create_service("memtrace-probe", settings, routers=[router]), settings)


if __name__ == "__main__":
    main()
