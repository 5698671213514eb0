"""``awstream``: the golden-labelled accuracy-bandwidth Pareto set, and startup / steady / degrade / probe.

The labels are what the cloud processor's labeller answers (``TaskFeedback.labels``); a synthetic scene
writes them here (test_awstream_clip.py has the real labeller score real frames). The link is a FIFO
model in the test (a segment's time on it is its wait behind the earlier ones plus its transfer at the
link's rate): it stands in for the platform's shaped link, whose ``transmit`` holds the same two parts.
Time is a clock the test moves by hand; each segment's feedback comes back before the next decision.
"""

from __future__ import annotations

import ast
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from common.errors import ConfigError
from common.feedback import StageFeedback, TaskFeedback
from common.golden import LABEL_KEY, CandidateScore, Knobs, LabelReport
from common.plan import ResourceReport
from common.task import Meta
from services.scheduler.agents.offline_profiling import link_sojourn_s
from tests.services.scheduler.agents.synthetic import FakeClock, drop, feed, make_agent, request

pytestmark = pytest.mark.unit
LADDERS: dict[str, list[Any]] = {"resolution": ["360p", "720p", "1080p"], "fps": [5.0, 15.0, 30.0]}
RES_F1 = {"360p": 0.6, "720p": 0.9, "1080p": 1.0}
FPS_F1 = {5.0: 0.6, 15.0: 0.95, 30.0: 1.0}
RES_BYTES = {"360p": 25_000, "720p": 100_000, "1080p": 225_000}
"""Bytes per second of video at 30 fps; a configuration sends its share of them."""
STARTUP = Meta(resolution="720p", fps=15, buffer_size=4)
PARETO = [
    ("360p", 5.0),
    ("360p", 15.0),
    ("360p", 30.0),
    ("720p", 15.0),
    ("720p", 30.0),
    ("1080p", 15.0),
    ("1080p", 30.0),
]
"""Worked out by hand from the tables above: 720p at 5 fps (0.54 for 133 kbit/s) is beaten by 360p at
15 fps (0.57 for 100 kbit/s), and 1080p at 5 fps (0.6 for 300 kbit/s) by 360p at 30 fps (0.6 for 200)."""
STEADY = {"full_every_s": None, "online_every_s": None, "probe_every_s": 2.0, "probe_segments": 2}


def bps(resolution: str, fps: float) -> float:
    return RES_BYTES[resolution] * fps / 30 * 8


def labels(candidates: list[Knobs], res_f1: dict[str, float] = RES_F1, objects: int = 5) -> LabelReport:
    """What the labeller answers on a golden segment of 30 frames (1 s of video at 30 fps)."""
    scores = []
    for knobs in candidates:
        f1 = round(res_f1[knobs.resolution] * FPS_F1[float(knobs.fps)], 6)
        scores.append(
            CandidateScore(
                knobs=knobs,
                f1=f1,
                precision=f1,
                recall=f1,
                frames_processed=int(knobs.fps),
                bytes=int(bps(knobs.resolution, float(knobs.fps)) / 8),
                model_s=0.01 * knobs.fps,
            )
        )
    golden = Knobs(resolution="1080p", fps=30, buffer_size=30)
    return LabelReport(
        golden=golden,
        frames=30,
        golden_objects=objects,
        golden_model_s=0.3,
        candidates=scores,
        cpu_s=0.2,
        segment_bytes=RES_BYTES["1080p"],
    )


def grid() -> list[Knobs]:
    return [Knobs(resolution=r, fps=f, buffer_size=4) for r in LADDERS["resolution"] for f in LADDERS["fps"]]


def profile_file(tmp_path: Path, reports: list[LabelReport]) -> str:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps([r.model_dump(mode="json") for r in reports]))
    return str(path)


class NoTruth(TaskFeedback):
    """Feedback that fails the test the moment anything reads its ground-truth accuracy."""

    def __getattribute__(self, name: str) -> Any:
        if name == "accuracy":
            raise AssertionError("awstream read the ground-truth accuracy")
        return super().__getattribute__(name)


class Link:
    """FIFO link: a segment waits for the ones before it, then crosses at ``mbps``."""

    def __init__(self, mbps: float) -> None:
        self.mbps = mbps
        self.free_at = 0.0

    def send(self, now: float, bits: float) -> float:
        start = max(now, self.free_at)
        self.free_at = start + bits / (self.mbps * 1e6)
        return self.free_at - now


class World:
    """An agent, its clock, a link, and the scene's labels: one decision, one segment, its feedback."""

    def __init__(self, params: dict[str, Any], mbps: float, monitor_mbps: float | None = None) -> None:
        self.clock = FakeClock(0.0)
        resources = {}
        if monitor_mbps is not None:
            resources["edge1"] = ResourceReport(node="edge1", at=0.0, bandwidth_mbps=monitor_mbps)
        self.agent: Any = make_agent(
            "awstream", {"ladders": LADDERS, **params}, startup=STARTUP, resources=resources, clock=self.clock
        )
        self.link = Link(mbps)
        self.res_f1 = dict(RES_F1)
        self.served: list[tuple[str, float, str]] = []

    def segment(self, meta: Meta) -> TaskFeedback:
        """Send a segment made with ``meta`` over the link; its feedback (labels when it asked for them)."""
        asked = meta.extra.get(LABEL_KEY)
        seconds = meta.buffer_size / meta.fps
        bits = RES_BYTES["1080p"] * 8.0 * seconds if asked else bps(meta.resolution, meta.fps) * seconds
        link_s = self.link.send(self.clock.now, bits)
        fb = NoTruth(
            source_id="cam1",
            task_id=len(self.served),
            source_node="edge1",
            created_at=self.clock.now,
            delay=link_s + 0.05,
            meta=meta,
            segment_bytes=int(bits / 8),
            stages=[
                StageFeedback(stage="d", service="detect", node="cloud", transmit=link_s, service_time=0.05),
                StageFeedback(stage="c", service="classify", node="cloud", transmit=0.0, service_time=0.01),
            ],
            accuracy=0.99,  # ground truth that would favour the cheapest configuration, were it read
        )
        if asked:
            fb.labels = labels([Knobs.model_validate(c) for c in asked], self.res_f1)
        return fb

    def step(self) -> Meta:
        meta: Meta = self.agent.decide(request()).meta
        self.served.append((meta.resolution, meta.fps, self.agent.state))
        feed(self.agent, [self.segment(meta)])
        self.clock.advance(meta.buffer_size / meta.fps)
        return meta

    def run(self, decisions: int) -> None:
        for _ in range(decisions):
            self.step()

    def config(self) -> tuple[str, float]:
        return self.agent.serving[0], self.agent.serving[1]

    def level(self) -> int:
        return PARETO.index(self.config())


def on_link(fb: TaskFeedback) -> float:
    return fb.stages[0].transmit or 0.0


def pareto_of(agent: Any) -> list[tuple[str, float]]:
    return [(p["config"][0], p["config"][1]) for p in agent.info()["pareto"]]


def test_the_pareto_set_of_a_given_profile(tmp_path: Path) -> None:
    """An offline profile (the labeller's reports on a clip) gives the Pareto set, cheapest first."""
    path = profile_file(tmp_path, [labels(grid())])
    agent: Any = make_agent("awstream", {"ladders": LADDERS, "profile": path}, startup=STARTUP)
    assert pareto_of(agent) == PARETO
    rates = [p["mbps"] for p in agent.info()["pareto"]]
    assert rates == sorted(rates) and rates[0] == pytest.approx(bps("360p", 5.0) / 1e6, abs=1e-4)
    f1s = [p["f1"] for p in agent.info()["pareto"]]
    assert all(b > a for a, b in itertools.pairwise(f1s))


def test_a_profile_of_several_segments_is_their_mean(tmp_path: Path) -> None:
    """720p scores 0.9 on one segment of the clip and 0.5 on the other: 0.7 on average. A third segment on
    which the golden model found nothing scores every candidate 0 here and changes no accuracy."""
    worse = {**RES_F1, "720p": 0.5}
    reports = [labels(grid()), labels(grid(), worse), labels(grid(), {k: 0.0 for k in RES_F1}, objects=0)]
    agent: Any = make_agent("awstream", {"ladders": LADDERS, "profile": profile_file(tmp_path, reports)})
    by_config = {(p["config"][0], p["config"][1]): p["f1"] for p in agent.info()["pareto"]}
    assert by_config[("720p", 15.0)] == pytest.approx(0.7 * 0.95, abs=1e-4)
    assert agent.info()["uninformative_segments"] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [("not json", "not JSON"), ('[{"golden": 1}]', "not a list of label reports"), ("[]", "no label report")],
)
def test_a_bad_profile_is_refused_with_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as caught:
        make_agent("awstream", {"ladders": LADDERS, "profile": str(path)})
    assert "bad.json" in caught.value.message


def test_startup_picks_what_the_measured_link_fits(tmp_path: Path) -> None:
    path = profile_file(tmp_path, [labels(grid())])
    fast = World({**STEADY, "profile": path}, mbps=10.0, monitor_mbps=10.0)
    fast.step()
    assert fast.config() == ("1080p", 30.0) and fast.agent.state == "steady"
    slow = World({**STEADY, "profile": path}, mbps=0.3, monitor_mbps=0.3)
    slow.step()
    # 360p at 30 fps: 200 kbit/s on 300 (rho 2/3, 0.18 s on the link); 720p at 15 fps exceeds the link.
    assert slow.config() == ("360p", 30.0)
    unknown = World({**STEADY, "profile": path}, mbps=10.0)
    unknown.step()
    assert unknown.config() == PARETO[0]  # nothing measured: the cheapest, probing climbs from there


def test_less_bandwidth_gives_a_cheaper_configuration_within_one_decision(tmp_path: Path) -> None:
    world = World({**STEADY, "probe_every_s": 1e9, "profile": profile_file(tmp_path, [labels(grid())])}, 10.0, 10.0)
    world.run(10)
    assert world.config() == ("1080p", 30.0) and world.agent.state == "steady"
    world.link.mbps = 0.3
    meta = world.agent.decide(request()).meta
    sent = [world.segment(meta) for _ in range(3)]  # the window's three segments queue up on the slow link
    for fb in sent:
        feed(world.agent, [fb])
        world.clock.advance(meta.buffer_size / meta.fps)
    plan = world.agent.decide(request())
    assert world.agent.state == "degrade"
    chosen = (plan.meta.resolution, plan.meta.fps)
    assert PARETO.index(chosen) < PARETO.index(("1080p", 30.0))
    # It fits what the link delivered to those segments (their wait included), as an M/D/1 queue.
    delivered = sum((fb.segment_bytes or 0) * 8 / on_link(fb) for fb in sent) / 3 / 1e6
    frames = STARTUP.buffer_size

    def fits(config: tuple[str, float]) -> bool:
        rate = bps(*config)
        return link_sojourn_s(rate / config[1], frames, config[1], delivered) <= 1.0

    assert fits(chosen) and not fits(PARETO[PARETO.index(chosen) + 1])
    assert LABEL_KEY not in plan.meta.extra and set(plan.offload.values()) == {"cloud"}


def test_a_growing_queue_degrades_even_when_the_rate_looks_delivered(tmp_path: Path) -> None:
    """Each segment longer on the link than the one before, the last over the interval between segments:
    the queue grows, though the window's mean delivered rate is above the rate sent."""
    world = World({**STEADY, "probe_every_s": 1e9, "profile": profile_file(tmp_path, [labels(grid())])}, 10.0, 10.0)
    world.run(3)
    meta = world.agent.decide(request()).meta
    interval = meta.buffer_size / meta.fps
    sent = []
    for link_s in (0.2 * interval, 0.5 * interval, 1.2 * interval):
        fb = world.segment(meta)
        fb.stages[0].transmit = link_s
        sent.append(fb)
    bits = [(fb.segment_bytes or 0) * 8 for fb in sent]
    delivered = sum(b / on_link(fb) for b, fb in zip(bits, sent, strict=True))
    assert delivered / 3 > sum(bits) / 3 / interval  # the rate check alone would not fire
    for fb in sent:
        feed(world.agent, [fb])
    plan = world.agent.decide(request())
    assert world.agent.state == "degrade"
    assert PARETO.index((plan.meta.resolution, plan.meta.fps)) < PARETO.index(("1080p", 30.0))


def test_a_segment_lost_to_load_degrades_and_a_silent_degrade_ends(tmp_path: Path) -> None:
    """A drop for load of a segment it serves is congestion; a drop for a segment's own error is not, nor one
    of a configuration it no longer serves. A degrade whose segments never come back returns to steady."""
    params = {**STEADY, "probe_every_s": 1e9, "feedback_timeout_s": 5.0}
    world = World({**params, "profile": profile_file(tmp_path, [labels(grid())])}, 10.0, 10.0)
    world.run(3)
    meta = world.agent.decide(request()).meta
    feed(world.agent, [drop(meta).model_copy(update={"reason": "decode_error"})])
    feed(world.agent, [drop(meta.model_copy(update={"resolution": "360p"}))])
    assert world.agent.decide(request()).meta.resolution == "1080p" and world.agent.state == "steady"
    feed(world.agent, [drop(meta)])  # queue_full
    plan = world.agent.decide(request())
    assert world.agent.state == "degrade" and PARETO.index((plan.meta.resolution, plan.meta.fps)) == len(PARETO) - 2
    world.clock.advance(4.0)
    world.agent.decide(request())
    assert world.agent.state == "degrade"
    world.clock.advance(2.0)
    world.agent.decide(request())
    assert world.agent.state == "steady" and world.config() == PARETO[-2]


def test_more_bandwidth_climbs_back_one_probe_at_a_time(tmp_path: Path) -> None:
    world = World({**STEADY, "profile": profile_file(tmp_path, [labels(grid())])}, mbps=0.3, monitor_mbps=10.0)
    world.run(60)
    # Started at the top (the monitor said 10 Mbit/s), degraded on the 0.3 Mbit/s link, settled on what fits.
    assert world.agent.info()["degrades"] >= 1
    assert world.config() == ("360p", 30.0) and world.agent.state == "steady"
    probes = world.agent.info()["probes"]
    world.run(30)
    assert world.config() == ("360p", 30.0)
    assert world.agent.info()["probes"] == probes  # the next one (400 kbit/s) does not fit what it measures

    world.link.mbps = 10.0
    start = len(world.served)
    world.run(120)
    after = world.served[start:]
    levels = [PARETO.index((r, f)) for r, f, _ in after]
    assert levels[-1] == len(PARETO) - 1 and world.agent.state == "steady"
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels))  # never more than one step up
    for i in range(1, len(after)):
        if levels[i] > levels[i - 1]:
            assert after[i][2] == "probe"  # every step up is a probe
            # ... held until its segments came back carried: the next step only from steady.
            nxt = next((j for j in range(i + 1, len(after)) if levels[j] > levels[j - 1]), None)
            if nxt is not None:
                assert any(state == "steady" for _, _, state in after[i:nxt])
    assert world.agent.info()["probes_kept"] >= len(PARETO) - 1 - PARETO.index(("360p", 30.0))


def test_a_probe_the_link_does_not_carry_goes_back(tmp_path: Path) -> None:
    """A stale monitor starts it at 360p x 30 fps on a 0.5 Mbit/s link: 720p x 15 fps (400 kbit/s) fits
    what the drained segments measure, so it probes; the link falls to 0.3 Mbit/s meanwhile, the probe's
    segments queue, and it goes back to where it was instead of keeping the probe."""
    world = World({**STEADY, "profile": profile_file(tmp_path, [labels(grid())])}, mbps=0.5, monitor_mbps=0.3)
    world.step()
    assert world.config() == ("360p", 30.0)
    for _ in range(60):
        world.step()
        if world.agent.state == "probe":
            break
    assert world.agent.state == "probe" and world.config() == ("720p", 15.0)
    world.link.mbps = 0.3
    for _ in range(12):
        world.step()
        if world.agent.state != "probe":
            break
    assert world.agent.state == "degrade" and world.config() == ("360p", 30.0)
    assert world.agent.info()["probes_kept"] == 0


def test_profiling_online_first_then_again_when_the_content_changes() -> None:
    """No offline profile: golden segments (richest knobs, every stage on the cloud, at most ``batch``
    candidates each) cover the grid; later re-measurements of the Pareto set follow the content."""
    params = {"batch": 4, "online_every_s": 5.0, "full_every_s": 30.0, "alpha": 1.0, "probe_every_s": 1e9}
    world = World(params, mbps=50.0, monitor_mbps=50.0)
    plan = world.agent.decide(request())
    assert (plan.meta.resolution, plan.meta.fps, plan.meta.buffer_size) == ("1080p", 30.0, 30)
    assert set(plan.offload.values()) == {"cloud"} and len(plan.meta.extra[LABEL_KEY]) == 4
    assert world.agent.state == "startup"
    # The labeller skipped that segment (its period had not passed): the same candidates are asked again.
    feed(world.agent, [world.segment(plan.meta).model_copy(update={"labels": None})])
    again = world.agent.decide(request())
    assert again.meta.extra[LABEL_KEY] == plan.meta.extra[LABEL_KEY]
    feed(world.agent, [world.segment(again.meta)])
    world.run(4)  # the other 5 configurations: two more golden segments, then served
    assert pareto_of(world.agent) == PARETO and world.agent.info()["full_profiles"] == 1
    assert world.agent.state == "steady" and world.config() == ("1080p", 30.0)

    # The scene changes: at 1080p the model now does no better than at 720p, so 1080p drops out at the
    # next re-measurement of the Pareto set; 720p at 30 fps becomes the top.
    world.res_f1 = {"360p": 0.6, "720p": 0.9, "1080p": 0.9}
    world.run(60)
    assert world.agent.info()["online_profiles"] >= 1
    assert ("1080p", 30.0) not in pareto_of(world.agent) and pareto_of(world.agent)[-1] == ("720p", 30.0)
    assert world.config() == ("720p", 30.0)
    # Then 1080p recovers; only a full profile can bring a configuration outside the set back in.
    world.res_f1 = dict(RES_F1)
    world.run(int(40 / (4 / 30)))
    assert world.agent.info()["full_profiles"] >= 2 and pareto_of(world.agent) == PARETO
    assert world.agent.info()["profiling_bytes"] > 0 and world.agent.info()["labeller_cpu_s"] > 0


def test_no_ground_truth_is_read() -> None:
    """Every feedback above is a ``NoTruth`` whose ``accuracy`` raises; the module does not name it either."""
    world = World({"batch": 16, "probe_every_s": 1.0}, mbps=2.0, monitor_mbps=2.0)
    world.run(40)
    assert world.agent.info()["pareto"]
    source = Path(__file__).resolve().parents[4] / "services" / "scheduler" / "agents" / "awstream.py"
    tree = ast.parse(source.read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "accuracy"]
