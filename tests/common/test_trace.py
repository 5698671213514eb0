"""Bandwidth traces: parsing (errors name the line), replay in loop and hold mode, the shipped traces."""

from __future__ import annotations

import math

import pytest

from common.errors import ConfigError
from common.trace import TRACE_DIR, known_traces, load_trace, parse_trace, resolve_trace
from common.tracegen import TRACES, random_walk, render

pytestmark = pytest.mark.unit

STEP = "t_s,mbit_per_s,delay_ms\n0,20,5\n10,2,40\n30,20,\n40,20,5\n"


def test_rate_and_delay_follow_the_rows():
    trace = parse_trace(STEP, mode="hold")
    assert [trace.rate_at(t) for t in (0, 9.99, 10, 29.9, 30, 39)] == [20, 20, 2, 2, 20, 20]
    assert trace.delay_at(0) == 5 and trace.delay_at(15) == 40
    assert trace.delay_at(35) is None  # an empty cell: the link's own latency applies


def test_hold_keeps_the_last_row_for_ever():
    trace = parse_trace("t_s,mbit_per_s\n0,20\n10,2\n", mode="hold")
    assert trace.rate_at(1e6) == 2
    assert trace.next_change(5) == 10
    assert trace.next_change(10) == math.inf


def test_loop_starts_again_at_the_closing_row():
    trace = parse_trace(STEP, mode="loop")
    assert trace.period_s == 40
    # 40 s per pass: 45 s is 5 s into the second pass, 55 s is in its drop.
    assert [trace.rate_at(t) for t in (39.9, 40, 45, 55, 75)] == [20, 20, 20, 2, 20]
    assert trace.next_change(45) == 50
    assert trace.next_change(75) == 80  # the pass ends: the first row again


def test_finish_time_integrates_across_a_step():
    trace = parse_trace("t_s,mbit_per_s\n0,8\n1,1\n", mode="hold")
    # 8 Mbit leave in the first second; the next 2 Mbit take 2 s at 1 Mbit/s.
    assert trace.finish_time(0, 10e6) == pytest.approx(3.0)
    assert trace.finish_time(0.5, 4e6) == pytest.approx(1.0)
    assert trace.finish_time(5, 1e6) == pytest.approx(6.0)


def test_single_row_is_constant_in_both_modes():
    for mode in ("loop", "hold"):
        trace = parse_trace("t_s,mbit_per_s\n0,12.5\n", mode=mode)  # type: ignore[arg-type]
        assert trace.rate_at(0) == trace.rate_at(500) == 12.5
        assert trace.finish_time(3, 25e6) == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("t_s,rate\n0,1\n", "header must name t_s and mbit_per_s"),
        ("t_s,mbit_per_s,jitter\n0,1,2\n", "unknown column(s) jitter"),
        ("t_s,mbit_per_s\n0,10\n5,-1\n", "line 3: mbit_per_s must be >= 0 (0: an outage)"),
        ("t_s,mbit_per_s\n0,0\n5,0\n", "an outage from start to end"),
        ("t_s,mbit_per_s\n0,0\n5,10\n", "an outage from start to end"),  # loop: the closing row is unused
        ("t_s,mbit_per_s\n0,10\n5,fast\n", "line 3: not a number"),
        ("t_s,mbit_per_s\n0,10\n5,3\n5,4\n", "t_s must increase"),
        ("t_s,mbit_per_s\n1,10\n", "must start at t_s=0"),
        ("t_s,mbit_per_s\n", "has no rows"),
        ("t_s,mbit_per_s,delay_ms\n0,10,-1\n", "line 2: delay_ms must be >= 0"),
    ],
)
def test_bad_traces_are_refused_with_the_line(text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_trace(text, name="bad")


def test_shipped_traces_load_and_change_within_a_minute():
    assert {"constant", "step-drop", "periodic", "random-walk"} <= set(known_traces())
    for name in ("step-drop", "periodic", "random-walk"):
        trace = load_trace(name)
        rates = {trace.rate_at(t) for t in range(60)}
        assert len(rates) > 1, f"{name} does not change in its first minute"
    step = load_trace("step-drop")
    assert step.rate_at(10) == 20 and step.rate_at(30) == 2 and step.rate_at(60) == 20
    assert load_trace("constant").rate_at(1000) == 20


def test_shipped_files_are_what_the_generator_writes():
    for name, make in TRACES.items():
        assert (TRACE_DIR / f"{name}.csv").read_text() == render(make()), f"run `make traces` ({name})"
    assert render(random_walk(seed=1)) != render(random_walk(seed=2))


def test_resolve_by_name_or_path(tmp_path):
    assert resolve_trace("step-drop") == (TRACE_DIR / "step-drop.csv").resolve()
    own = tmp_path / "mine.csv"
    own.write_text("t_s,mbit_per_s\n0,3\n")
    assert resolve_trace(str(own)) == own
    with pytest.raises(ConfigError, match=r"unknown trace 'nope'; known: .*step-drop"):
        resolve_trace("nope")
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_trace(str(tmp_path / "missing.csv"))
    with pytest.raises(ConfigError, match="may only hold"):
        resolve_trace("a b")


def test_an_outage_second_carries_nothing_and_transfers_resume_after_it():
    trace = parse_trace("t_s,mbit_per_s\n0,8\n1,0\n2,8\n3,8\n", mode="loop")
    assert trace.rate_at(1.5) == 0 and trace.in_outage(1.5) and not trace.in_outage(2.0)
    # 1 Mbit starting at 0.5: half before the outage, the rest once it ends.
    assert trace.finish_time(0.5, 8e6 * 1.0) == pytest.approx(2.5)
    assert trace.finish_time(1.2, 0) == pytest.approx(2.0)  # nothing leaves during the outage
    assert trace.finish_time(0.0, 0) == 0.0
    assert trace.finish_time(1.2, 8e6 * 2) == pytest.approx(3.0 + 1.0)  # on through the next pass


def test_a_held_trace_that_ends_in_an_outage_never_delivers_and_opens_at_its_first_rate():
    trace = parse_trace("t_s,mbit_per_s\n0,0\n1,4\n2,0\n", mode="hold")
    assert trace.initial_rate() == 4  # a replay that has not started does not sit in the opening outage
    assert trace.finish_time(0.2, 4e6 * 0.5) == pytest.approx(1.5)
    assert trace.finish_time(1.8, 4e6 * 1.0) == math.inf
    assert trace.finish_time(5.0, 0) == math.inf


def test_any_resolution_and_length():
    rows = "\n".join(f"{i / 1000:g},{(i % 7) * 0.5:g}" for i in range(200_000))  # 1 ms rows, 200 s
    trace = parse_trace("t_s,mbit_per_s\n" + rows + "\n", mode="loop")
    assert trace.period_s == pytest.approx(199.999)
    assert trace.rate_at(0.0035) == 1.5 and trace.rate_at(0.0070) == 0.0
    # 1 Mbit over rows averaging 1.5 Mbit/s with outages between: about 2/3 s, walked row by row.
    assert trace.finish_time(0.0, 1e6) == pytest.approx(2 / 3, rel=0.02)


@pytest.mark.parametrize(
    ("name", "seconds", "outages"),
    [("verizon-lte-short-up", 140, 1), ("tmobile-umts-driving-up", 300, 21), ("verizon-evdo-driving-up", 300, 4)],
)
def test_measured_cellular_traces_ship_with_their_outages(name, seconds, outages):
    trace = load_trace(name, mode="hold")
    assert len(trace.points) == seconds
    assert sum(1 for p in trace.points if p.mbit_per_s == 0) == outages
    assert name in (TRACE_DIR / "README.md").read_text()
    # What the link carries in its first seconds leaves by the end of the last second that carries any
    # (it waits out every outage on the way).
    rows = trace.points[:-1]
    last = max(p.t_s for p in rows if p.mbit_per_s > 0) + 1
    total_bits = sum(p.mbit_per_s for p in rows) * 1e6 * (1 - 1e-9)
    assert trace.finish_time(0.0, total_bits) == pytest.approx(last, abs=1e-3)
