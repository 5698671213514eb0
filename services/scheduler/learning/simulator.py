"""A trace-driven simulator of one source's pipeline, to train and test the learning agents without servers.

Segments of ``buffer_size`` frames are made every ``buffer_size / fps`` seconds and are either processed
on the source's edge node (a FIFO model server ``edge_slowdown`` times slower than the cloud's) or cross
one link whose bandwidth follows a trace (FIFO: a segment waits for the previous one) to the cloud's FIFO
model server; a segment that would wait longer than ``max_wait_s`` is dropped. Sizes, model times and
accuracy follow simple models whose constants come from measurements on this project's synthetic
workload (see docs/policies.md): bytes per frame scale with pixels and halve every +6 qp (x264's rule),
model time per frame scales with pixels, and accuracy grows with resolution and falls with qp. Objects
per frame and their velocity drift as a random walk (the content dynamics the agents see).
Every finished segment becomes a :class:`TaskFeedback`, so agents see exactly what the scheduler sees:
the transmit time of a stage runs from the moment the segment was ready to send to its arrival, the wait
behind earlier segments in the link's queue included, as the controller measures it live (the shaper's
hold-back plus the body's transfer). Seconds at 0 Mbit/s are outages: the link holds its traffic until
the rate returns (a trace that ends in an outage never delivers, and the segment is dropped).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field

from common.feedback import ContentFeatures, DropFeedback, StageFeedback, TaskFeedback
from common.task import Meta

HEIGHTS = {"240p": 240, "360p": 360, "480p": 480, "540p": 540, "720p": 720, "1080p": 1080}


@dataclass
class SimModel:
    bytes_per_frame_720p_qp26: float = 10_000.0
    """Measured: 4-frame 720p segments of the benchmark clip at qp 26 weigh about 40 kB."""
    model_ms_per_frame_720p: float = 60.0
    model_floor_ms: float = 5.0
    accuracy_720p: float = 0.9
    accuracy_halving_height: float = 300.0
    """Height at which accuracy has fallen to half of the 720p figure (small faces vanish)."""
    qp_accuracy_loss: float = 0.012
    """Accuracy lost per qp step above 26."""
    max_wait_s: float = 5.0
    link_latency_s: float = 0.005
    """One-way delay of the link, added to every transfer."""
    edge_slowdown: float = 3.0
    """Model time on the edge node over the cloud's (a small box against a server)."""

    def pixels(self, meta: Meta) -> float:
        height = HEIGHTS.get(meta.resolution, 720)
        return (height / 720.0) ** 2

    def frame_bytes(self, meta: Meta) -> float:
        qp = meta.qp if meta.qp is not None else 26
        return self.bytes_per_frame_720p_qp26 * self.pixels(meta) * 2 ** ((26 - qp) / 6)

    def model_ms(self, meta: Meta) -> float:
        return self.model_floor_ms + self.model_ms_per_frame_720p * self.pixels(meta)

    def accuracy(self, meta: Meta) -> float:
        height = HEIGHTS.get(meta.resolution, 720)
        shape = height**2 / (height**2 + self.accuracy_halving_height**2)
        ref = 720**2 / (720**2 + self.accuracy_halving_height**2)
        qp = meta.qp if meta.qp is not None else 26
        return max(0.0, min(1.0, self.accuracy_720p * shape / ref - self.qp_accuracy_loss * max(0, qp - 26)))


def random_trace(
    rng: random.Random, length_s: float, low: float = 0.2, high: float = 100.0, outages: float = 0.1
) -> list[tuple[float, float]]:
    """Piecewise-constant bandwidth: levels drawn log-uniformly, each held 5-30 s; with chance ``outages``
    a level is followed by an outage of 1-3 s at 0 Mbit/s (the measured cellular traces have them)."""
    points, t = [], 0.0
    while t < length_s:
        points.append((t, low * (high / low) ** rng.random()))
        t += rng.uniform(5, 30)
        if rng.random() < outages:
            points.append((t, 0.0))
            t += rng.randint(1, 3)
    return points


@dataclass
class Simulator:
    trace: list[tuple[float, float]]
    model: SimModel = field(default_factory=SimModel)
    seed: int = 0
    source_id: str = "sim"
    velocity: float = 0.1
    """Starting object velocity, frame diagonals per second."""

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.now = 0.0
        self.link_free = 0.0
        self.server_free = 0.0
        self.edge_free = 0.0
        self.task_id = 0
        self.objects = 3.0

    def bandwidth(self, t: float) -> float:
        rate = self.trace[0][1]
        for start, value in self.trace:
            if start <= t:
                rate = value
        return rate

    def finish(self, start: float, nbytes: int) -> float:
        """When ``nbytes`` sent from ``start`` have crossed the link, walking the trace's levels (an outage
        adds its length and moves nothing); ``math.inf`` when the trace ends in an outage."""
        bits, t = nbytes * 8.0, start
        for n, (_, rate) in enumerate(self.trace):
            level_end = self.trace[n + 1][0] if n + 1 < len(self.trace) else math.inf
            if level_end <= t:
                continue
            if rate > 0:
                done = t + bits / (rate * 1e6)
                if done <= level_end:
                    return done
                bits -= (level_end - t) * rate * 1e6
            t = level_end
        return math.inf

    def run(self, meta: Meta, seconds: float, offloaded: bool = True) -> list[TaskFeedback | DropFeedback]:
        """Make segments with ``meta`` for ``seconds`` of source time; their feedback, in order."""
        out: list[TaskFeedback | DropFeedback] = []
        period = meta.buffer_size / meta.fps
        end = self.now + seconds
        while self.now < end:
            self.now += period
            self.objects = max(0.0, self.objects + self.rng.uniform(-0.5, 0.5))
            self.velocity = min(0.4, max(0.01, self.velocity * self.rng.uniform(0.9, 1.1)))
            out.append(self.segment(meta, self.now, offloaded))
        return out

    def segment(self, meta: Meta, made: float, offloaded: bool) -> TaskFeedback | DropFeedback:
        size = int(self.model.frame_bytes(meta) * meta.buffer_size * self.rng.uniform(0.8, 1.2))
        task_id, self.task_id = self.task_id, self.task_id + 1
        transmit = 0.0
        arrive = made
        if offloaded:
            start = max(made, self.link_free)
            done = self.finish(start, size)
            if start - made > self.model.max_wait_s or done == math.inf:
                return DropFeedback(
                    source_id=self.source_id, task_id=task_id, reason="queue_full", meta=meta, segment_bytes=size
                )
            self.link_free = done
            # The link's queue included, as the controller measures it live; the fixed delay is the link's
            # latency, which (as in the shaper) delays a segment without keeping the next one off the link.
            arrive = done + self.model.link_latency_s
            transmit = arrive - made
        slowdown = 1.0 if offloaded else self.model.edge_slowdown
        service = self.model.model_ms(meta) * meta.buffer_size / 1000.0 * slowdown * self.rng.uniform(0.9, 1.1)
        begin = max(arrive, self.server_free if offloaded else self.edge_free)
        if begin - arrive > self.model.max_wait_s:
            return DropFeedback(
                source_id=self.source_id, task_id=task_id, reason="queue_full", meta=meta, segment_bytes=size
            )
        if offloaded:
            self.server_free = begin + service
        else:
            self.edge_free = begin + service
        delay = begin + service - made
        accuracy = max(0.0, min(1.0, self.model.accuracy(meta) + self.rng.uniform(-0.05, 0.05)))
        return TaskFeedback(
            source_id=self.source_id,
            task_id=task_id,
            source_node="edge1",
            created_at=time.time(),
            delay=delay,
            meta=meta,
            segment_bytes=size,
            stages=[
                StageFeedback(
                    stage="s",
                    service="detect",
                    node="cloud" if offloaded else "edge1",
                    transmit=transmit if offloaded else None,
                    queue=begin - arrive,
                    service_time=service,
                )
            ],
            content=ContentFeatures(obj_num=self.objects, obj_velocity=self.velocity),
            accuracy=accuracy,
        )
