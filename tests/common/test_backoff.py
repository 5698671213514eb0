"""``common.backoff.Backoff``, the one policy of every bounded retry (client, outbox, feedback, capture,
local runtime's restarts): the waits it gives, with the jitter's draw passed in."""

from __future__ import annotations

import pytest

from common.backoff import Backoff

pytestmark = pytest.mark.unit


def test_the_wait_doubles_from_the_first_and_stays_bounded() -> None:
    backoff = Backoff(base_s=0.5, max_s=4.0)
    assert [backoff.delay(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]


def test_no_failure_yet_waits_the_first_delay() -> None:
    assert Backoff(base_s=0.5, max_s=4.0).delay(0) == 0.5


def test_a_long_run_of_failures_stays_at_the_bound() -> None:
    """An outbox re-sending to a distributor down for days counts far past where ``2 ** n`` overflows."""
    assert Backoff(base_s=0.5, max_s=10.0).delay(100_000) == 10.0


def test_no_base_means_no_wait() -> None:
    assert Backoff(base_s=0.0, max_s=2.0).delay(5) == 0.0


@pytest.mark.parametrize(("draw", "share"), [(0.0, 0.5), (0.5, 0.75), (1.0, 1.0)])
def test_jitter_draws_between_half_the_wait_and_all_of_it(draw: float, share: float) -> None:
    backoff = Backoff(base_s=0.1, max_s=0.5, jitter=True)
    assert backoff.delay(2, draw=lambda: draw) == pytest.approx(0.2 * share)
    assert backoff.delay(9, draw=lambda: draw) == pytest.approx(0.5 * share)


def test_without_jitter_the_draw_is_not_used() -> None:
    def never() -> float:
        raise AssertionError("drawn")

    assert Backoff(base_s=1.0, max_s=8.0).delay(3, draw=never) == 4.0
