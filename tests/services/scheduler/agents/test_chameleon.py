"""``chameleon``: golden-labelled knob-at-a-time profiles, independence, top-k reused across time.

The labels are what the cloud processor's labeller answers (``TaskFeedback.labels``); here a synthetic
scene writes them (the labeller itself is tested on real frames in tests/services/processor).
"""

from __future__ import annotations

from typing import Any

import pytest

from common.feedback import TaskFeedback
from common.golden import LABEL_KEY, CandidateScore, Knobs, LabelReport
from common.task import Meta
from tests.services.scheduler.agents.synthetic import FakeClock, feed, make_agent, request, task

pytestmark = pytest.mark.unit
LADDERS = {"resolution": ["360p", "540p", "1080p"], "fps": [5, 10, 30]}
RES_ACC = {"360p": 0.5, "540p": 0.95, "1080p": 1.0}
FPS_ACC = {5.0: 0.6, 10.0: 0.9, 30.0: 1.0}
MODEL_ACC = {"haar": 0.5, "blazeface": 1.0, None: 1.0}
RES_BYTES = {"360p": 10_000, "540p": 25_000, "1080p": 90_000}


def world(knobs: Knobs, model_acc: dict[str | None, float] = MODEL_ACC) -> CandidateScore:
    """What the labeller answers for one candidate of a 30-frame golden segment (1 s of video)."""
    f1 = RES_ACC[knobs.resolution] * FPS_ACC[float(knobs.fps)] * model_acc[knobs.model]
    kept = int(knobs.fps)
    return CandidateScore(
        knobs=knobs,
        f1=f1,
        precision=f1,
        recall=f1,
        frames_processed=kept,
        bytes=RES_BYTES[knobs.resolution] * kept,
        model_s=0.01 * kept * (5 if knobs.model == "blazeface" else 1),
    )


def answer(
    meta: Meta,
    *,
    objects: int = 5,
    labelled: bool = True,
    model_acc: dict[str | None, float] = MODEL_ACC,
    accuracy: float | None = None,
) -> TaskFeedback:
    """The feedback of a segment made with ``meta``: with labels when its plan asked for them."""
    fb = task(meta, 0.5, size=RES_BYTES[meta.resolution] * int(meta.fps) // 30 * meta.buffer_size, accuracy=accuracy)
    candidates = meta.extra.get(LABEL_KEY)
    if candidates and labelled:
        golden = Knobs(resolution=meta.resolution, fps=meta.fps, buffer_size=30, model=meta.extra.get("model"))
        fb.labels = LabelReport(
            golden=golden,
            frames=30,
            golden_objects=objects,
            golden_model_s=0.3,
            candidates=[world(Knobs.model_validate(c), model_acc) for c in candidates],
            cpu_s=0.25,
            segment_bytes=fb.segment_bytes or 0,
        )
    return fb


def run(params: dict[str, Any], decisions: int, **answer_kwargs: Any) -> tuple[list[Meta], Any, FakeClock]:
    """``decisions`` decisions one second apart, each segment's feedback (and labels) back at once."""
    clock = FakeClock()
    agent = make_agent(
        "chameleon", {"ladders": LADDERS, **params}, startup=Meta(resolution="540p", fps=10), clock=clock
    )
    served = []
    for _ in range(decisions):
        plan = agent.decide(request())
        served.append(plan.meta)
        feed(agent, [answer(plan.meta, **answer_kwargs)])
        clock.advance(1.0)
    return served, agent, clock


def knobs(meta: Meta) -> tuple[str, float]:
    return meta.resolution, meta.fps


def test_a_profile_is_one_golden_segment_on_the_cloud_listing_one_knob_at_a_time() -> None:
    agent: Any = make_agent("chameleon", {"ladders": LADDERS})
    first = agent.decide(request())
    assert knobs(first.meta) == ("1080p", 30.0)
    assert set(first.offload.values()) == {"cloud"}
    listed = [(c["resolution"], c["fps"]) for c in first.meta.extra[LABEL_KEY]]
    assert listed == [("1080p", 30.0), ("360p", 30.0), ("540p", 30.0), ("1080p", 5.0), ("1080p", 10.0)]


def test_after_the_labels_it_serves_the_cheapest_configuration_above_target() -> None:
    served, agent, _ = run({"target": 0.8, "profile_window_s": 3600, "recheck_s": 3600}, 4)
    # 540p x 10 fps: 0.95 * 0.9 = 0.855 >= 0.8, the fewest bytes; 360p fails, 540p x 30 fps costs more.
    assert knobs(served[-1]) == ("540p", 10.0)
    assert LABEL_KEY not in served[-1].extra
    info = agent.info()
    assert info["rounds"] == 1 and info["profiling_tasks"] == 1 and info["profiling_bytes"] > 0
    assert info["labeller_cpu_s"] == 0.25 and len(info["shortlist"]) <= 3


def test_a_higher_target_buys_a_richer_configuration() -> None:
    served, _, _ = run({"target": 0.94, "profile_window_s": 3600, "recheck_s": 3600}, 4)
    assert knobs(served[-1]) in {("540p", 30.0), ("1080p", 30.0)}
    assert RES_ACC[served[-1].resolution] * FPS_ACC[served[-1].fps] >= 0.94


def test_ground_truth_in_feedback_plays_no_part() -> None:
    """Feedback claiming the cheapest configuration is perfect against ground truth changes nothing."""
    served, _, _ = run({"target": 0.8, "profile_window_s": 3600, "recheck_s": 3600}, 4, accuracy=1.0)
    assert knobs(served[-1]) == ("540p", 10.0)


def test_without_labels_it_keeps_what_it_served_and_asks_again_later() -> None:
    served, agent, _ = run(
        {"target": 0.8, "profile_window_s": 30, "recheck_s": 3600, "probe_timeout_s": 5}, 37, labelled=False
    )
    assert knobs(served[35]) == ("540p", 10.0)  # the startup knobs
    assert agent.info()["rounds"] == 0 and agent.info()["shortlist"] == []
    profiles = [i for i, m in enumerate(served) if LABEL_KEY in m.extra]
    # Unlabelled answers ask again at once until the timeout (t=0..5, given up at t=6); then the next
    # window starts 30 s after giving up.
    assert profiles == [0, 1, 2, 3, 4, 5, 36]


def test_a_golden_segment_with_nothing_in_it_is_not_ranked() -> None:
    served, agent, _ = run({"target": 0.8, "profile_window_s": 3600, "probe_timeout_s": 5}, 3, objects=0)
    assert agent.info()["rounds"] == 0 and agent.info()["uninformative_segments"] == 3
    assert all(LABEL_KEY in m.extra for m in served)  # asked again each time, within the timeout


def test_profiles_repeat_every_window() -> None:
    _, agent, _ = run({"target": 0.8, "profile_window_s": 10, "recheck_s": 3600}, 10)  # t=0..9
    assert agent.info()["rounds"] == 1
    _, agent, _ = run({"target": 0.8, "profile_window_s": 10, "recheck_s": 3600}, 11)  # t=10: next window
    assert agent.info()["rounds"] == 2


def test_between_profiles_the_shortlist_is_rechecked_and_a_drift_moves_the_choice() -> None:
    """The recheck labels the shortlisted configurations themselves; when 540p x 10 drops under target
    the next shortlisted one is served, without a full profile."""
    clock = FakeClock()
    agent: Any = make_agent(
        "chameleon",
        {"ladders": LADDERS, "target": 0.8, "profile_window_s": 3600, "recheck_s": 5},
        startup=Meta(resolution="540p", fps=10),
        clock=clock,
    )
    plan = agent.decide(request())
    feed(agent, [answer(plan.meta)])
    clock.advance(1)
    assert knobs(agent.decide(request()).meta) == ("540p", 10.0)
    shortlist = [tuple(k[:2]) for k in agent.info()["shortlist"]]
    clock.advance(5)
    recheck = agent.decide(request())
    assert [(c["resolution"], c["fps"]) for c in recheck.meta.extra[LABEL_KEY]] == shortlist
    RES_ACC["540p"] = 0.85  # the scene changed: small objects now need more pixels at 10 fps
    try:
        feed(agent, [answer(recheck.meta)])
    finally:
        RES_ACC["540p"] = 0.95
    clock.advance(1)
    after = agent.decide(request()).meta
    assert knobs(after) != ("540p", 10.0) and knobs(after) in shortlist
    assert agent.info()["rounds"] == 1 and agent.info()["rechecks"] == 1


@pytest.mark.parametrize(("haar", "expected"), [(0.95, "haar"), (0.5, "blazeface")])
def test_the_model_is_a_knob(haar: float, expected: str) -> None:
    """The cheap model is served where golden labels say it is good enough, the accurate one otherwise."""
    model_acc = {**MODEL_ACC, "haar": haar}
    served, _, _ = run(
        {"target": 0.8, "profile_window_s": 3600, "recheck_s": 3600, "models": ["haar", "blazeface"]},
        4,
        model_acc=model_acc,
    )
    assert served[0].extra["model"] == "blazeface"  # golden: the most accurate model
    assert served[-1].extra["model"] == expected
