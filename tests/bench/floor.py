"""The floors Dayu's data-plane figures are held against, measured on the same machine in the same run.

- The **hop floor**: a bare FastAPI app under uvicorn (uvloop, httptools, no access log) that writes the
  raw request body into a new file and answers ``202``, called by a bare aiohttp client. It is what one
  node-to-node hop costs with the same libraries and none of Dayu's work (no task model, no validation).
- The **chain floor**: a bare 2-hop chain shaped like the passthrough run: an entry process answers
  ``202`` and, in the background, sends the task JSON to a worker process twice (two stages; the worker
  parses the JSON and checks the segment file exists) and then to a sink that counts finished tasks per
  source. The bench drives it with the same closed loop (window, polling) and the same task bodies as
  the passthrough run.

``python -m tests.bench.floor ROLE PORT [NEXT_URL ...]`` runs one of the bare servers (``hop DIR``,
``entry WORKER_URL SINK_URL``, ``worker DIR``, ``sink``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response


def connector() -> Any:
    """Idle pooled connections close after 4 s, before uvicorn's 5 s keep-alive ends them under a request."""
    import aiohttp

    return aiohttp.TCPConnector(keepalive_timeout=4.0)


def hop_app(directory: Path) -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/hop", status_code=202)
    async def hop(request: Request) -> Response:
        path = directory / f"{uuid.uuid4().hex}.bin"
        with open(path, "xb") as out:  # a new file: overwriting costs more and the receiver never does
            async for chunk in request.stream():
                out.write(chunk)
        return Response(b'{"ok":true}', status_code=202, media_type="application/json")

    return app


def entry_app(worker: str, sink: str) -> FastAPI:
    import aiohttp

    state: dict[str, Any] = {}
    background: set[asyncio.Task[None]] = set()

    async def post(url: str, body: bytes) -> bytes:
        session: aiohttp.ClientSession = state["session"]
        for attempt in range(3):  # a pooled connection the server just closed is retried, as Dayu's client does
            try:
                async with session.post(url, data=body, headers={"content-type": "application/json"}) as answer:
                    return await answer.read()
            except aiohttp.ClientConnectionError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def carry(body: bytes) -> None:
        try:
            for _ in range(2):  # two stages on the worker, as the passthrough DAG has
                body = await post(f"{worker}/process", body)
            await post(f"{sink}/results", body)
        except Exception as exc:  # counted at the sink, so the bench never waits for a lost task
            failure = {"source_id": json.loads(body)["source_id"], "error": str(exc)}
            await post(f"{sink}/failed", json.dumps(failure).encode())

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        async with aiohttp.ClientSession(connector=connector()) as session:
            state["session"] = session
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/tasks", status_code=202)
    async def tasks(request: Request) -> Response:
        job = asyncio.create_task(carry(await request.body()))
        background.add(job)
        job.add_done_callback(background.discard)
        return Response(b'{"ok":true}', status_code=202, media_type="application/json")

    return app


def worker_app(directory: Path) -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/process")
    async def process(request: Request) -> Response:
        body = await request.body()
        task = json.loads(body)
        if not (directory / task["payload"]["file_name"]).is_file():
            return Response(b'{"error":"missing"}', status_code=404, media_type="application/json")
        return Response(body, media_type="application/json")

    return app


def sink_app() -> FastAPI:
    app = FastAPI()
    counts: Counter[str] = Counter()
    failed: Counter[str] = Counter()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/results")
    async def results(request: Request) -> Response:
        counts[json.loads(await request.body())["source_id"]] += 1
        return Response(b'{"ok":true}', media_type="application/json")

    @app.post("/failed")
    async def fail(request: Request) -> Response:
        failed[json.loads(await request.body())["source_id"]] += 1
        return Response(b'{"ok":true}', media_type="application/json")

    @app.get("/count/{source}")
    async def count(source: str) -> dict[str, int]:
        return {"results": counts[source], "failed": failed[source]}

    return app


# -- the client side (runs in the bench process) ---------------------------------------------------


async def chain_floor(
    entry: str, sink: str, bodies: list[bytes], source: str, *, window: int, poll_s: float, timeout: float = 300.0
) -> tuple[float, int, int]:
    """The passthrough run's closed loop against the bare chain: at most ``window`` unfinished tasks.
    Returns (seconds from the first submission until the sink holds every task, results, failures)."""
    import aiohttp

    n = len(bodies)
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession(connector=connector()) as session:

        async def submit(i: int) -> None:
            async with session.post(f"{entry}/tasks", data=bodies[i], headers=headers) as answer:
                await answer.read()

        submitted = finished = results = failed = 0
        start = time.perf_counter()
        deadline = time.monotonic() + timeout
        while finished < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"bare chain: {finished} of {n} tasks within {timeout}s")
            batch = range(submitted, min(n, finished + window))
            if batch:
                await asyncio.gather(*(submit(i) for i in batch))
                submitted = batch.stop
            await asyncio.sleep(poll_s)
            async with session.get(f"{sink}/count/{source}") as answer:
                counts = await answer.json()
            results, failed = int(counts["results"]), int(counts["failed"])
            finished = results + failed
        return time.perf_counter() - start, results, failed


def main(argv: list[str]) -> None:
    import importlib.util

    import uvicorn

    role, port, rest = argv[0], int(argv[1]), argv[2:]
    if role == "hop":
        app = hop_app(Path(rest[0]))
    elif role == "entry":
        app = entry_app(rest[0], rest[1])
    elif role == "worker":
        app = worker_app(Path(rest[0]))
    elif role == "sink":
        app = sink_app()
    else:
        raise SystemExit(f"unknown role {role!r}: hop, entry, worker or sink")
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main(sys.argv[1:])
