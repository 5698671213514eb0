"""Accuracy from golden labels for agents without ground truth: online-profiling, casva, hei and the rewards.

The labels are what the cloud processor's labeller answers (``TaskFeedback.labels``); a synthetic scene
writes them here (the labeller itself runs on real frames in tests/services/processor/test_labeller.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from common.feedback import TaskFeedback
from common.golden import LABEL_KEY, CandidateScore, Knobs, LabelReport
from common.task import Meta
from services.scheduler.knobs import Ladders
from services.scheduler.learning.features import reward
from services.scheduler.learning.golden import GoldenAccuracy, GoldenLabelsConfig
from tests.services.scheduler.agents.synthetic import FakeClock, feed, make_agent, request, task

pytestmark = pytest.mark.unit
LADDERS = {"resolution": ["360p", "480p", "720p", "1080p"], "fps": [5.0, 10.0, 30.0], "qp": [40, 28]}
RES_F1 = {"360p": 0.5, "480p": 0.95, "720p": 0.97, "1080p": 1.0}
FPS_F1 = {5.0: 0.7, 10.0: 0.95, 30.0: 1.0}
QP_F1 = {40: 0.9, 28: 1.0, None: 1.0}


def labels(meta: Meta, res_f1: dict[str, float] = RES_F1, objects: int = 4) -> LabelReport:
    """The labeller's answer for a golden segment made with ``meta`` listing candidates."""
    golden = Knobs(resolution=meta.resolution, fps=meta.fps, qp=meta.qp, buffer_size=meta.buffer_size)
    scores = []
    for raw in meta.extra[LABEL_KEY]:
        k = Knobs.model_validate(raw)
        f1 = res_f1[k.resolution] * FPS_F1[float(k.fps)] * QP_F1[k.qp]
        scores.append(
            CandidateScore(knobs=k, f1=f1, precision=f1, recall=f1, frames_processed=4, bytes=1000, model_s=0.1)
        )
    return LabelReport(
        golden=golden,
        frames=meta.buffer_size,
        golden_objects=objects,
        golden_model_s=0.1,
        candidates=scores,
        cpu_s=0.2,
        segment_bytes=5000,
    )


def labelled_task(meta: Meta, **kwargs: Any) -> TaskFeedback:
    fb = task(meta, 0.3)
    fb.labels = labels(meta, **kwargs)
    return fb


def test_golden_accuracy_asks_on_its_period_and_estimates_by_independence() -> None:
    clock = FakeClock()
    golden = GoldenAccuracy(GoldenLabelsConfig(every_s=10), Ladders.model_validate(LADDERS), clock)
    meta = Meta(resolution="480p", fps=10, qp=40)
    assert golden.estimate(meta) is None  # nothing learnt: no made-up accuracy
    assert golden.due()
    plan = golden.plan(request(), meta, "cloud")
    assert (plan.meta.resolution, plan.meta.fps, plan.meta.qp) == ("1080p", 30.0, 28)
    assert set(plan.offload.values()) == {"cloud"}
    assert len(plan.meta.extra[LABEL_KEY]) == 1 + 3 + 2 + 1  # golden, then each knob's other rungs
    assert not golden.due()  # waiting for the labels
    golden.ingest(labels(plan.meta))
    assert golden.estimate(meta) == pytest.approx(0.95 * 0.95 * 0.9)
    assert golden.estimate(meta.model_copy(update={"resolution": "360p"})) == pytest.approx(0.5 * 0.95 * 0.9)
    clock.advance(9)
    assert not golden.due()
    clock.advance(1)
    assert golden.due()


def test_a_golden_segment_with_nothing_in_it_teaches_nothing() -> None:
    golden = GoldenAccuracy(GoldenLabelsConfig(every_s=10), Ladders.model_validate(LADDERS), FakeClock())
    plan = golden.plan(request(), Meta(resolution="480p", fps=10), "cloud")
    golden.ingest(labels(plan.meta, objects=0))
    assert golden.estimate(Meta(resolution="480p", fps=10, qp=40)) is None


def test_rewards_without_ground_truth_follow_golden_labels_not_object_counts() -> None:
    golden = GoldenAccuracy(GoldenLabelsConfig(every_s=10), Ladders.model_validate(LADDERS), FakeClock())
    golden.ingest(labels(golden.plan(request(), Meta(resolution="480p", fps=10), "cloud").meta))
    low = Meta(resolution="360p", fps=10, qp=28)
    high = Meta(resolution="720p", fps=10, qp=28)
    r_low = reward([task(low, 0.3, obj_num=20.0)], 1.0, "latency-first", 0.5, golden.estimate)
    r_high = reward([task(high, 0.3, obj_num=0.0)], 1.0, "latency-first", 0.5, golden.estimate)
    assert r_high > r_low  # many objects at 360p no longer look accurate
    # Without labels the object count plays no part either.
    assert reward([task(low, 0.3, obj_num=20.0)], 1.0, "latency-first", 0.5) == reward(
        [task(low, 0.3, obj_num=0.0)], 1.0, "latency-first", 0.5
    )
    # The golden profiling segment itself is not the policy's outcome.
    profiling = task(Meta(resolution="1080p", fps=30, extra={LABEL_KEY: []}), 9.0)
    assert reward([profiling, task(high, 0.3)], 1.0, "latency-first", 0.5, golden.estimate) == reward(
        [task(high, 0.3)], 1.0, "latency-first", 0.5, golden.estimate
    )


def online(params: dict[str, Any], res_f1: dict[str, float]) -> list[Meta]:
    clock = FakeClock()
    agent = make_agent(
        "online-profiling",
        {"ladders": LADDERS, "slo_s": 10, "golden": {"every_s": 60}, **params},
        startup=Meta(resolution="720p", fps=10, qp=28),
        clock=clock,
    )
    served = []
    for _ in range(4):
        plan = agent.decide(request())
        served.append(plan.meta)
        feed(agent, [labelled_task(plan.meta, res_f1=res_f1) if LABEL_KEY in plan.meta.extra else task(plan.meta, 0.3)])
        clock.advance(1)
    return served


def test_online_profiling_serves_the_cheapest_resolution_golden_labels_find_accurate_enough() -> None:
    served = online({"accuracy_target": 0.85}, RES_F1)
    assert LABEL_KEY in served[0].extra and served[0].resolution == "1080p"  # the golden segment
    assert served[-1].resolution == "480p"  # 0.95 * 0.95 >= 0.85; 360p is not; 1080p would also meet the SLO


def test_online_profiling_buys_pixels_when_golden_labels_say_small_ones_miss() -> None:
    served = online({"accuracy_target": 0.85}, {**RES_F1, "480p": 0.6})
    assert served[-1].resolution == "720p"


def test_online_profiling_without_a_target_keeps_the_richest_within_the_slo() -> None:
    assert online({}, RES_F1)[-1].resolution == "1080p"


@pytest.mark.parametrize("alias", ["casva", "hei"])
def test_learning_agents_ask_for_golden_labels_without_taking_a_step(alias: str) -> None:
    pytest.importorskip("torch")
    clock = FakeClock()
    ladders = {"ladders": LADDERS} if alias == "casva" else {"micro": {"ladders": LADDERS}}
    agent: Any = make_agent(
        alias,
        {**ladders, "pretrained": False, "golden": {"every_s": 30}},
        startup=Meta(resolution="720p", fps=10),
        clock=clock,
    )
    first = agent.decide(request())
    assert LABEL_KEY in first.meta.extra and set(first.offload.values()) == {"cloud"}
    assert agent.last is None  # the learner neither acted nor will be rewarded for it
    feed(agent, [labelled_task(first.meta)])
    assert agent.info()["golden"]["labelled"] == 1
    clock.advance(1)
    second = agent.decide(request())
    assert LABEL_KEY not in second.meta.extra
    assert agent.golden.estimate(Meta(resolution="360p", fps=10, qp=28)) == pytest.approx(0.5 * 0.95)
