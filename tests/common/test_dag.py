"""DAG construction and validation: every rule, and every error naming the stage at fault."""

from __future__ import annotations

import pytest

from common.dag import (
    DagSpec,
    StageSpec,
    advance,
    build_dag,
    critical_path,
    needs_join,
    topological_order,
    validate_dag,
)
from common.errors import DagError, InvalidInput
from common.results import SegmentResult
from common.task import END, START, Stage, StageTimings
from tests.common.dagkit import CATALOG, dag_of, new_task

pytestmark = pytest.mark.unit


def spec(*stages: tuple[str, str], edges: list[tuple[str, str]] | None = None) -> DagSpec:
    return DagSpec(stages=[StageSpec(name=n, service=s) for n, s in stages], edges=edges or [])


def test_build_adds_sentinels_and_links_them():
    dag = build_dag(spec(("det", "detect"), ("ocr", "ocr"), edges=[("det", "ocr")]), CATALOG)
    assert list(dag) == [START, "det", "ocr", END]
    assert dag[START].next == ["det"] and dag[START].service == START
    assert dag["det"].prev == [START] and dag["det"].next == ["ocr"]
    assert dag["ocr"].next == [END] and dag[END].prev == ["ocr"]


def test_edges_can_be_given_per_stage():
    dag = build_dag(
        DagSpec(stages=[StageSpec(name="a", service="detect", next=["b"]), StageSpec(name="b", service="ocr")]),
        CATALOG,
    )
    assert dag["a"].next == ["b"] and dag["b"].prev == ["a"]


def test_parallel_roots_all_hang_off_start():
    dag = build_dag(spec(("faces", "detect"), ("plates", "detect")), CATALOG)
    assert dag[START].next == ["faces", "plates"]
    assert dag[END].prev == ["faces", "plates"]


def test_unknown_service_names_stage_and_lists_known():
    with pytest.raises(DagError) as err:
        build_dag(spec(("det", "detect"), ("x", "yolo")), CATALOG)
    assert err.value.stage == "x"
    assert "'yolo'" in err.value.message and "known: anything, classify, detect" in err.value.message
    assert err.value.status_code == 400 and err.value.code == "invalid_dag"


def test_cycle_names_a_stage_on_the_cycle_not_one_after_it():
    # a -> b -> c -> b is a cycle; d only hangs below it and must not be blamed.
    with pytest.raises(DagError) as err:
        build_dag(
            spec(
                ("a", "anything"),
                ("b", "anything"),
                ("c", "anything"),
                ("d", "anything"),
                edges=[("a", "b"), ("b", "c"), ("c", "b"), ("c", "d")],
            ),
            CATALOG,
        )
    assert err.value.stage in {"b", "c"}
    assert err.value.detail == {"cycle": ["b", "c"]}
    assert "b -> c -> b" in err.value.message


def test_two_stage_cycle_without_entry_is_a_cycle():
    with pytest.raises(DagError, match="cycle"):
        build_dag(spec(("a", "anything"), ("b", "anything"), edges=[("a", "b"), ("b", "a")]), CATALOG)


def test_self_loop_names_stage():
    with pytest.raises(DagError, match="itself") as err:
        build_dag(spec(("a", "anything"), edges=[("a", "a")]), CATALOG)
    assert err.value.stage == "a"


def test_duplicate_edge_names_stage():
    with pytest.raises(DagError, match="duplicate edge 'a' -> 'b'") as err:
        build_dag(
            DagSpec(
                stages=[StageSpec(name="a", service="anything", next=["b"]), StageSpec(name="b", service="anything")],
                edges=[("a", "b")],
            ),
            CATALOG,
        )
    assert err.value.stage == "a"


def test_edge_to_unknown_stage_names_it():
    with pytest.raises(DagError) as err:
        build_dag(spec(("a", "anything"), edges=[("a", "ghost")]), CATALOG)
    assert err.value.stage == "ghost"


def test_reserved_and_repeated_stage_names():
    with pytest.raises(ValueError, match="pattern"):
        StageSpec(name="_end", service="anything")
    reserved = DagSpec.model_construct(stages=[StageSpec.model_construct(name="_end", service="anything", next=[])])
    with pytest.raises(DagError, match="reserved") as err:
        build_dag(reserved, CATALOG)
    assert err.value.stage == "_end"
    with pytest.raises(DagError, match="defined twice") as err:
        build_dag(spec(("a", "detect"), ("a", "ocr")), CATALOG)
    assert err.value.stage == "a"


def test_type_mismatch_names_the_consumer_and_both_types():
    # ocr produces text; classify takes bbox.
    with pytest.raises(DagError) as err:
        build_dag(spec(("d", "detect"), ("o", "ocr"), ("c", "classify"), edges=[("d", "o"), ("o", "c")]), CATALOG)
    assert err.value.stage == "c"
    assert "'bbox'" in err.value.message and "'text'" in err.value.message and "'o'" in err.value.message


def test_first_stage_must_take_frames():
    with pytest.raises(DagError, match="takes 'text'") as err:
        build_dag(spec(("t", "translate")), CATALOG)
    assert err.value.stage == "t"


def test_any_type_matches_everything():
    dag = build_dag(
        spec(("d", "detect"), ("x", "anything"), ("t", "translate"), edges=[("d", "x"), ("x", "t")]), CATALOG
    )
    assert topological_order(dag) == [START, "d", "x", "t", END]


def test_spec_rejects_bad_names_and_empty_dags():
    with pytest.raises(ValueError):
        StageSpec(name="../evil", service="detect")
    with pytest.raises(ValueError):
        DagSpec(stages=[])
    with pytest.raises(ValueError):
        DagSpec.model_validate({"stages": [{"name": "a", "service": "detect"}], "color": "red"})


def _hand_dag() -> dict[str, Stage]:
    return {
        START: Stage(name=START, service=START, next=["a"]),
        "a": Stage(name="a", service="anything", prev=[START], next=[END]),
        END: Stage(name=END, service=END, prev=["a"]),
    }


def test_validate_accepts_a_good_hand_written_dag():
    """Accepted: no DagError, the DAG left as written, and it is the DAG build_dag makes of the same spec
    (so a hand-written DAG and a built one are held to the same rules)."""
    dag = _hand_dag()
    written = {name: stage.model_copy(deep=True) for name, stage in dag.items()}
    validate_dag(dag, CATALOG)
    assert dag == written
    assert dag == build_dag(spec(("a", "anything")), CATALOG)
    assert topological_order(dag) == [START, "a", END]
    broken = _hand_dag()
    broken[END].prev.clear()  # the same DAG less one back-link: refused, so acceptance above means something
    with pytest.raises(DagError, match="missing from '_end'"):
        validate_dag(broken, CATALOG)


@pytest.mark.parametrize(
    ("mutate", "stage", "words"),
    [
        (lambda d: d.pop(END), END, "lacks"),
        (
            lambda d: (
                d.update(orphan=Stage(name="orphan", service="anything", next=[END])) or d[END].prev.append("orphan")
            ),
            "orphan",
            "cannot be reached",
        ),
        (
            lambda d: d.update(dead=Stage(name="dead", service="anything", prev=["a"])) or d["a"].next.append("dead"),
            "dead",
            "never leads to _end",
        ),
        (lambda d: d["a"].next.append("missing"), "a", "unknown stage 'missing'"),
        (lambda d: d[END].prev.append("a"), "_end", "duplicate edge"),
        (lambda d: d["a"].prev.clear(), "a", "missing from 'a'"),
        (lambda d: setattr(d["a"], "service", "nope"), "a", "unknown service"),
        (lambda d: setattr(d[END], "service", "detect"), END, "sentinel"),
        (lambda d: setattr(d["a"], "name", "b"), "a", "does not match"),
        (lambda d: d[START].prev.append("a"), START, "predecessors"),
    ],
)
def test_validate_rejects_broken_dags_naming_the_stage(mutate, stage, words):
    dag = _hand_dag()
    mutate(dag)
    with pytest.raises(DagError, match=words) as err:
        validate_dag(dag, CATALOG)
    assert err.value.stage == stage
    assert err.value.detail is not None


def test_topological_order_respects_every_edge():
    dag = dag_of([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "e"), ("a", "e")])
    order = topological_order(dag)
    assert order[0] == START and order[-1] == END
    for name, stage in dag.items():
        for succ in stage.next:
            assert order.index(name) < order.index(succ)


def test_advance_moves_one_successor_in_place_and_forks_several():
    dag = dag_of([("a", "b"), ("a", "c")])
    task = new_task(dag)
    (at_a,) = advance(task)
    assert at_a.cursor == "a" and at_a.came_from == START and at_a.task_uuid == task.task_uuid
    forks = advance(at_a)
    assert [f.cursor for f in forks] == ["b", "c"]
    assert len({f.task_uuid for f in forks} | {task.task_uuid}) == 3
    assert all(f.parent_uuid == task.task_uuid and f.root_uuid == task.root_uuid for f in forks)
    # Deterministic: a retried fork gives the same identities (idempotent storage downstream).
    assert [f.task_uuid for f in advance(at_a)] == [f.task_uuid for f in forks]
    # The copies are independent.
    forks[0].stage.result = SegmentResult(application="x")
    assert forks[1].dag["b"].result is None and at_a.dag["b"].result is None


def test_advance_past_end_is_refused():
    task = new_task(dag_of([("a", "b")])).with_cursor(END)
    with pytest.raises(InvalidInput, match="no successor"):
        advance(task)


def test_needs_join_only_where_several_predecessors():
    dag = dag_of([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])
    task = new_task(dag)
    assert needs_join(task.with_cursor("d"))
    assert not needs_join(task.with_cursor("b"))
    assert not needs_join(task.with_cursor(END))


def test_critical_path_of_a_chain_sums_transmit_and_execute():
    dag = dag_of([("a", "b")])
    dag["a"].timings = StageTimings(transmit=0.1, execute=0.5, queue=0.2, service=0.3)
    dag["b"].timings = StageTimings(transmit=0.2, execute=1.0)
    dag[END].timings = StageTimings(transmit=0.05)
    total, path = critical_path(dag)
    assert total == pytest.approx(1.85)  # queue and service are inside execute, not added again
    assert path == [START, "a", "b", END]


def test_critical_path_takes_the_slowest_branch():
    dag = dag_of([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])
    for name, ex in {"a": 1.0, "b": 0.5, "c": 2.0, "d": 0.1}.items():
        dag[name].timings = StageTimings(transmit=0.0, execute=ex)
    total, path = critical_path(dag)
    assert total == pytest.approx(3.1) and path == [START, "a", "c", "d", END]


def test_critical_path_with_no_timings_is_zero():
    total, path = critical_path(dag_of([("a", "b")]))
    assert total == 0.0 and path[0] == START and path[-1] == END
