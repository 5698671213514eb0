"""What the backend keeps per source stays at its bound however long the dashboard stays open.

The memory soaks (``docs/reliability.md``, "Memory") found the backend's recent result views among the
Python-level growth sites of its first minutes: bounded, so the growth stops at the bound. A real backend
(uvicorn on loopback, its own control plane) is given far more views than the bound."""

from __future__ import annotations

from fastapi import FastAPI

from backend.contracts.views import ResultView
from backend.plane import RECENT_PER_SOURCE, ControlPlane
from tests.backend.conftest import RunningBackend


def test_recent_views_stay_at_their_bound_per_source(backend: RunningBackend) -> None:
    app = backend.server.config.app
    assert isinstance(app, FastAPI)
    plane: ControlPlane = app.state.plane
    many = RECENT_PER_SOURCE * 4
    for seq in range(many):
        for source in ("cam0", "cam1"):
            plane.remember(source, ResultView(seq=seq, source_id=source, task_id=seq))
    for source in ("cam0", "cam1"):
        kept = plane.recent[source]
        assert len(kept) == RECENT_PER_SOURCE
        assert list(kept) == list(range(many - RECENT_PER_SOURCE, many))  # the newest, the oldest gone
    plane.remember("cam0", ResultView(seq=None, source_id="cam0"))  # no seq: nothing to look up later
    assert len(plane.recent["cam0"]) == RECENT_PER_SOURCE
