"""The node's share under steady loads, in the closed-loop model of ``admission_model.py``: the real controller
admission and the real source admission of 12 sources making a segment every 0.8 s, against one stage whose
service time sets the load (what the sources offer over what it serves). Deterministic: the model's clock.

The share the overload calls for is ``1 - 1/load``: shedding less fills the queue until it overflows, shedding
more idles the stage. Both starts are modelled: all sources together (generators started at once on the same
clip) and spread over a period; and sources with their own phase (named) or all with the same one.

The first seconds are left out of the counts: the sources start at share 1, and the first cut reaches them a
wait target, an interval and a segment later. Before it, at twice the stage's capacity, the stage's queue
(32) overflows by a few tasks: the tests bound that onset instead of hiding it.
"""

from __future__ import annotations

import pytest

from tests.services.controller.admission_model import run

SHED_OVER = 0.05
"""How much more than the overload calls for may be shed (a share of the segments)."""
SHED_UNDER = 0.01
"""How much less: only what the stage's queue holds at the end of the run."""
ONSET_S = 10.0


@pytest.mark.parametrize("load", [0.5, 0.9, 0.95])
@pytest.mark.parametrize("staggered", [False, True])
@pytest.mark.parametrize("named", [True, False])
def test_a_stage_that_keeps_up_makes_no_source_shed(load: float, staggered: bool, named: bool) -> None:
    out = run(load=load, staggered=staggered, phases=named, warmup_s=0.0)
    assert out.shed == 0 and out.queue_full == 0, out.summary()
    assert out.results_per_s == pytest.approx(12 / 0.8, rel=0.02), out.summary()


@pytest.mark.parametrize("load", [1.05, 1.5, 2.0])
@pytest.mark.parametrize("staggered", [False, True])
@pytest.mark.parametrize("named", [True, False])
def test_past_capacity_the_sources_shed_what_the_overload_calls_for_and_the_stage_stays_busy(
    load: float, staggered: bool, named: bool
) -> None:
    """Before the window, the credit without its cap and the quicker recovery, the same model shed 8-23 % at
    1.02-1.05 (2-5 % called for) with the stage busy 81-94 %, and 49-53 % at 1.5 (33 %)."""
    out = run(load=load, staggered=staggered, phases=named)
    need = 1 - 1 / load
    assert need - SHED_UNDER <= out.shed_share <= need + SHED_OVER, (need, out.summary())
    assert out.busy_share >= 0.9, out.summary()
    # Following the share, the queue never overflows once the first cut has reached the sources.
    assert all(when < ONSET_S for when in out.refused_at), out.refused_at
    assert out.queue_full <= 12, out.summary()  # at most the sources' submissions of one period
    assert out.overloaded == 0 and out.most_waiting <= 32


@pytest.mark.parametrize("staggered", [False, True])
def test_past_three_times_the_capacity_the_queue_still_does_not_overflow_once_followed(staggered: bool) -> None:
    """A node far past its capacity still sheds before its queue fills: the safety the share exists for."""
    out = run(load=3.0, staggered=staggered)
    assert out.shed_share >= 1 - 1 / 3.0 - SHED_UNDER, out.summary()
    assert all(when < ONSET_S for when in out.refused_at), out.refused_at


def test_the_model_is_deterministic() -> None:
    a = run(load=1.5, staggered=True, seconds=60.0)
    b = run(load=1.5, staggered=True, seconds=60.0)
    assert a.summary() == b.summary() and a.shares == b.shares and a.shed_by_reason == b.shed_by_reason
