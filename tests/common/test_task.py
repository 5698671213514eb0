"""The Task model: JSON round trip (property-based), clear errors on malformed input, safe file names."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.dag import DagSpec, StageSpec, build_dag
from common.errors import InvalidInput
from common.records import DropReason, DropRecord
from common.results import Detection, FrameResult, SegmentResult
from common.task import END, START, Meta, Payload, RawMeta, StageTimings, Task, check_file_name
from tests.common.dagkit import CATALOG, dag_of, new_task

pytestmark = pytest.mark.unit

names = st.text(alphabet="abcdefghij", min_size=1, max_size=6)
finite = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
detections = st.builds(
    Detection,
    box=st.tuples(finite, finite, finite, finite),
    score=st.floats(0, 1),
    label=names,
    text=st.none() | st.text(max_size=8),
    track_id=st.none() | st.integers(0, 1000),
)
frame_results = st.builds(
    FrameResult,
    frame_index=st.none() | st.integers(0, 10**9),
    width=st.none() | st.integers(1, 8000),
    height=st.none() | st.integers(1, 8000),
    objects=st.lists(detections, max_size=3),
)
results = st.none() | st.builds(
    SegmentResult,
    application=names,
    classes=st.lists(names, max_size=2),
    reads_text=st.booleans(),
    frames=st.lists(frame_results, max_size=2),
    extra=st.dictionaries(names, json_values, max_size=3),
)


@st.composite
def dags(draw: st.DrawFn) -> dict:
    stages = draw(st.lists(names, min_size=1, max_size=6, unique=True))
    # Edges only from earlier to later stages: always acyclic.
    edges = [(a, b) for i, a in enumerate(stages) for b in stages[i + 1 :] if draw(st.booleans())]
    if not edges:
        edges = [(stages[0], stages[-1])] if len(stages) > 1 else []
    if not edges:
        return build_dag(DagSpec(stages=[StageSpec(name=stages[0], service="anything")]), CATALOG)
    return dag_of(edges)


@st.composite
def tasks(draw: st.DrawFn) -> Task:
    dag = draw(dags())
    for stage in dag.values():
        stage.node = draw(st.none() | names)
        stage.result = draw(results)
        stage.scenario = draw(st.none() | st.dictionaries(names, finite, max_size=3))
        stage.timings = StageTimings(
            transmit=draw(st.none() | finite),
            queue=draw(st.none() | finite),
            service=draw(st.none() | finite),
            execute=draw(st.none() | finite),
            transmit_from=draw(st.dictionaries(names, finite, max_size=2)),
        )
        stage.done = draw(st.booleans())
    cursor = draw(st.sampled_from(sorted(dag)))
    return Task(
        source_id=draw(st.text(min_size=1, max_size=20)),
        task_id=draw(st.integers(0, 2**40)),
        source_node=draw(names),
        meta=Meta(
            resolution=draw(st.sampled_from(["1080p", "720p", "360p"])),
            fps=draw(st.floats(min_value=0.5, max_value=240)),
            encoding=draw(st.sampled_from(["mp4v", "h264"])),
            qp=draw(st.none() | st.integers(0, 51)),
            buffer_size=draw(st.integers(1, 1000)),
            extra=draw(st.dictionaries(names, json_values, max_size=3)),
        ),
        raw_meta=RawMeta(width=draw(st.none() | st.integers(1, 8000)), fps=draw(st.none() | st.floats(1, 120))),
        dag=dag,
        cursor=cursor,
        came_from=draw(st.none() | st.sampled_from(sorted(dag))),
        payload=Payload(
            file_name=draw(st.none() | st.from_regex(r"[a-z0-9_-]{1,20}\.mp4", fullmatch=True)),
            frame_indices=draw(st.lists(st.integers(0, 10**9), max_size=8)),
            ground_truth=draw(st.none() | st.lists(st.dictionaries(names, json_values, max_size=2), max_size=3)),
        ),
        created_at=draw(st.floats(0, 2e9)),
        finished_at=draw(st.none() | st.floats(0, 2e9)),
        deployment_version=draw(st.integers(0, 1000)),
        accuracy=draw(st.none() | st.dictionaries(names, st.floats(0, 1), max_size=3)),
    )


@settings(max_examples=150, deadline=None)
@given(tasks())
def test_json_round_trip_is_exact(task: Task) -> None:
    text = task.to_json()
    again = Task.from_json(text)
    assert again == task
    assert again.to_json() == text
    assert Task.from_dict(json.loads(text)) == task


@settings(max_examples=50, deadline=None)
@given(tasks())
def test_drop_record_round_trip_carries_the_task(task: Task) -> None:
    record = DropRecord.of(task, DropReason.QUEUE_FULL, "queue of 8 full")
    again = DropRecord.model_validate_json(record.model_dump_json())
    assert again == record and again.task == task and again.reason is DropReason.QUEUE_FULL


def test_root_uuid_defaults_to_own_uuid_and_survives_forks():
    task = new_task(dag_of([("a", "b")]))
    assert task.root_uuid == task.task_uuid and task.cursor == START
    moved = task.with_cursor("a")
    assert moved.came_from == START and moved.root_uuid == task.root_uuid
    assert task.cursor == START  # the original is untouched


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.update(cursor="ghost"), "cursor 'ghost' is not a stage"),
        (lambda d: d.update(came_from="ghost"), "came_from 'ghost'"),
        (lambda d: d["dag"]["a"].update(next=["zz"]), "unknown stage 'zz'"),
        (lambda d: d["dag"]["a"].update(name="b"), "does not match"),
        (lambda d: d.update(task_id=-1), "task_id"),
        (lambda d: d.update(colour="red"), "colour: Extra inputs are not permitted"),
        (lambda d: d["meta"].update(fps=0), "meta.fps"),
        (lambda d: d["meta"].update(qp=99), "meta.qp"),
        (lambda d: d["payload"].update(file_name="../../etc/passwd"), "plain name"),
        (lambda d: d["dag"]["a"]["timings"].update(execute=-1), "dag.a.timings.execute"),
        (lambda d: d.pop("source_id"), "source_id: Field required"),
    ],
)
def test_malformed_task_says_what_was_wrong(change, words):
    data = json.loads(new_task(dag_of([("a", "b")])).to_json())
    change(data)
    with pytest.raises(InvalidInput, match="malformed task") as err:
        Task.from_json(json.dumps(data))
    assert words in err.value.message
    assert err.value.status_code == 400


@pytest.mark.parametrize("text", [b"", b"not json", b"[]", b"\xff\xfe", b'{"source_id": 1}', b"null"])
def test_garbage_is_invalid_input(text):
    with pytest.raises(InvalidInput, match="malformed task"):
        Task.from_json(text)


def test_non_finite_numbers_are_refused_because_json_cannot_carry_them():
    data = json.loads(new_task(dag_of([("a", "b")])).to_json())
    with pytest.raises(InvalidInput, match="finite"):
        data["dag"]["a"]["scenario"] = {"x": float("nan")}
        Task.from_json(json.dumps(data))  # json.dumps writes NaN, which is not JSON
    with pytest.raises(ValueError, match="finite"):
        StageTimings(execute=float("inf"))


def test_with_cursor_refuses_unknown_stage():
    with pytest.raises(InvalidInput, match="unknown stage"):
        new_task(dag_of([("a", "b")])).with_cursor("nowhere")


@pytest.mark.parametrize("bad", ["", ".", "..", "../x", "a/b", "/etc/passwd", "a\\b", "a\x00b", "x" * 256])
def test_file_names_that_could_escape_are_refused(bad):
    with pytest.raises(ValueError, match="plain name"):
        check_file_name(bad)


def test_key_and_end_stage():
    task = new_task(dag_of([("a", "b")]))
    assert task.key() == f"cam-1/{task.task_uuid}"
    assert task.with_cursor(END).stage.name == END
