"""Deeply nested JSON on every POST route of a real scheduler: 400, and the scheduler keeps answering."""

from __future__ import annotations

import httpx
import pytest

from tests.services.scheduler.test_app import start

pytestmark = pytest.mark.integration

ROUTES = ["/plan", "/feedback", "/resources", "/source-selection", "/deployment"]


def test_deep_json_is_400_on_every_post_route() -> None:
    deep = b"[" * 1000 + b"]" * 1000
    with start({}) as url, httpx.Client(timeout=10) as client:
        for path in ROUTES:
            for content_type in ("application/json", "text/plain"):
                response = client.post(f"{url}{path}", content=deep, headers={"Content-Type": content_type})
                assert response.status_code == 400, (path, response.status_code, response.text)
                error = response.json()["error"]
                assert error["code"] == "invalid_input" and "nested deeper than" in error["message"], error
        assert client.get(f"{url}/health").status_code == 200
        # Refused before any route ran: no plan made, no feedback or report taken.
        stats = client.get(f"{url}/stats").json()
        assert stats["plans_served"] == 0 and stats["agents"] == {}, stats
        assert stats["feedback"] == {"tasks": 0, "drops": 0, "agents_rebuilt": 0}, stats
        assert client.get(f"{url}/resources").json() == {}
