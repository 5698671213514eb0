"""Fork/join through the real JoinStore, walked the way controllers walk a task through its DAG."""

from __future__ import annotations

import pytest

from common.dag import advance, critical_path, downstream, join_key, merge
from common.errors import InvalidInput
from common.join import JoinStore
from common.records import DropReason
from common.results import SegmentResult
from common.task import END, START, Task
from tests.common.dagkit import dag_of, new_task, walk

pytestmark = pytest.mark.unit

SEEDS = range(6)  # delivery orders: the outcome must not depend on which branch arrives first


def edge_times(task: Task, default: float = 0.01, **special: float) -> dict[tuple[str, str], float]:
    times = {(a, b): default for a, stage in task.dag.items() for b in stage.next}
    for key, value in special.items():
        a, b = key.split("__")
        times[(a, b)] = value
    return times


def assert_every_stage_ran(task: Task) -> None:
    for name, stage in task.dag.items():
        if name in (START, END):
            continue
        assert stage.done, name
        assert stage.result == SegmentResult(application=name)
        assert stage.scenario == {"obj_num": float(len(name))}
        assert stage.timings.execute is not None


@pytest.mark.parametrize("seed", SEEDS)
def test_diamond_joins_both_branches_and_charges_each_edge(seed):
    task = new_task(dag_of([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]))
    execute = {"a": 1.0, "b": 2.0, "c": 1.0, "d": 0.5}
    # The branch through c computes faster but its upload into d is slow: it is the critical one.
    transmit = edge_times(task, default=0.1, a__c=0.05, c__d=1.5, d___end=0.05)
    store = JoinStore(timeout=5)
    (done,) = walk(task, execute=execute, transmit=transmit, store=store, seed=seed)
    assert len(store) == 0
    assert_every_stage_ran(done)
    assert done.root_uuid == task.root_uuid and done.task_uuid != task.task_uuid
    assert done.dag["d"].timings.transmit_from == {"b": 0.1, "c": 1.5}
    total, path = critical_path(done.dag)
    # start->a 0.1 + a 1.0 + a->c 0.05 + c 1.0 + c->d 1.5 + d 0.5 + d->end 0.05
    assert total == pytest.approx(4.2)
    assert path == [START, "a", "c", "d", END]


@pytest.mark.parametrize("seed", SEEDS)
def test_three_way_join_waits_for_every_branch(seed):
    task = new_task(dag_of([("a", "x"), ("a", "y"), ("a", "z"), ("x", "j"), ("y", "j"), ("z", "j")]))
    execute = {"a": 0.1, "x": 0.3, "y": 0.9, "z": 0.2, "j": 0.1}
    store = JoinStore(timeout=5)
    (done,) = walk(task, execute=execute, transmit=edge_times(task), store=store, seed=seed)
    assert_every_stage_ran(done)
    assert sorted(done.dag["j"].timings.transmit_from) == ["x", "y", "z"]
    total, path = critical_path(done.dag)
    assert path == [START, "a", "y", "j", END]
    assert total == pytest.approx(0.1 + 0.9 + 0.1 + 4 * 0.01)


@pytest.mark.parametrize("seed", SEEDS)
def test_nested_fork_joins_inner_then_outer(seed):
    # a forks to b and c; b forks again to d and e, which join at f; f and c join at g.
    task = new_task(
        dag_of([("a", "b"), ("a", "c"), ("b", "d"), ("b", "e"), ("d", "f"), ("e", "f"), ("f", "g"), ("c", "g")])
    )
    execute = {"a": 0.1, "b": 0.1, "c": 0.5, "d": 0.2, "e": 0.7, "f": 0.1, "g": 0.1}
    store = JoinStore(timeout=5)
    (done,) = walk(task, execute=execute, transmit=edge_times(task), store=store, seed=seed)
    assert_every_stage_ran(done)
    assert len(store) == 0
    total, path = critical_path(done.dag)
    assert path == [START, "a", "b", "e", "f", "g", END]
    assert total == pytest.approx(0.1 + 0.1 + 0.7 + 0.1 + 0.1 + 6 * 0.01)


def test_join_at_end_and_a_branch_that_skips_the_join():
    # Two independent stages both feed _end: the join happens at _end (the distributor's store).
    task = new_task(dag_of([("p", "q"), ("p", "r")]))
    store = JoinStore(timeout=5)
    (done,) = walk(task, execute={"p": 0.1, "q": 0.2, "r": 0.3}, transmit=edge_times(task), store=store)
    assert done.cursor == END
    assert_every_stage_ran(done)
    assert critical_path(done.dag)[1] == [START, "p", "r", END]


def _copies_at_join(task: Task) -> list[Task]:
    """The two copies of a diamond that reach d, each having run its branch."""
    (at_a,) = advance(task)
    at_a.stage.done = True
    copies = []
    for branch in advance(at_a):
        branch.stage.done = True
        branch.stage.result = SegmentResult(application=branch.cursor)
        (at_d,) = advance(branch)
        copies.append(at_d)
    return copies


def test_retried_delivery_of_one_branch_is_idempotent():
    task = new_task(dag_of([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]))
    from_b, from_c = _copies_at_join(task)
    store = JoinStore(timeout=5)
    assert store.add(from_b).merged is None
    assert store.add(from_b).merged is None  # the same branch again: still waiting for c
    merged = store.add(from_c).merged
    assert merged is not None and merged.dag["b"].result == SegmentResult(application="b")
    assert merged.dag["c"].result == SegmentResult(application="c")
    # Joining again gives the same identity: storage downstream stays idempotent.
    assert merge([from_c, from_b]).task_uuid == merged.task_uuid


def test_join_timeout_drops_with_reason_and_missing_branch():
    clock = [100.0]
    task = new_task(dag_of([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]))
    from_b, _ = _copies_at_join(task)
    store = JoinStore(timeout=2, clock=lambda: clock[0])
    store.add(from_b)
    clock[0] += 1.9
    assert store.expire() == [] and len(store) == 1
    clock[0] += 0.2
    ((entry, message),) = store.expire()
    assert len(store) == 0
    assert entry.key == join_key(from_b) and entry.missing() == ["c"]
    assert "join timeout" in message and "'d'" in message and "['c']" in message
    (record,) = entry.drop_records(message, node="cloud")
    assert record.reason is DropReason.JOIN_TIMEOUT
    assert record.task_uuid == from_b.task_uuid and record.stage == "d" and record.node == "cloud"
    assert record.task is not None and record.task.dag["b"].result == SegmentResult(application="b")


def test_full_store_evicts_the_oldest_join_with_a_reason():
    store = JoinStore(timeout=60, capacity=2)
    dag = dag_of([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])
    waiting = [_copies_at_join(new_task(dag, task_id=i))[0] for i in range(3)]
    assert not store.add(waiting[0]).dropped
    assert not store.add(waiting[1]).dropped
    outcome = store.add(waiting[2])
    ((evicted, message),) = outcome.dropped
    assert outcome.merged is None and len(store) == 2
    assert evicted.key.root_uuid == waiting[0].root_uuid and "capacity 2" in message
    (record,) = evicted.drop_records(message)
    assert record.reason is DropReason.OVERLOADED and record.task_id == 0
    # The evicted join is gone: its late sibling starts a new wait instead of completing it.
    assert {p.key.root_uuid for p in store.pending()} == {waiting[1].root_uuid, waiting[2].root_uuid}


def test_bad_arrival_is_refused_and_changes_nothing():
    store = JoinStore(timeout=60, capacity=1)
    dag = dag_of([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])
    first = _copies_at_join(new_task(dag, task_id=1))[0]
    store.add(first)
    stray = _copies_at_join(new_task(dag, task_id=2))[0]
    stray.came_from = "a"  # a is not a predecessor of d
    with pytest.raises(InvalidInput, match="not a predecessor"):
        store.add(stray)
    no_origin = stray.model_copy(update={"came_from": None})
    with pytest.raises(InvalidInput, match="came from"):
        store.add(no_origin)
    assert [p.key for p in store.pending()] == [join_key(first)]


def test_single_predecessor_stage_passes_straight_through():
    task = new_task(dag_of([("a", "b")]))
    (at_a,) = advance(task)
    (at_b,) = advance(at_a)
    outcome = JoinStore().add(at_b)
    assert outcome.merged is at_b and not outcome.dropped


def test_abandon_forgets_every_join_of_a_root():
    dag = dag_of([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])
    store = JoinStore()
    keep = _copies_at_join(new_task(dag, task_id=1))[0]
    gone = _copies_at_join(new_task(dag, task_id=2))[0]
    store.add(keep)
    store.add(gone)
    (entry,) = store.abandon(gone.root_uuid)
    assert entry.drop_reason is DropReason.BRANCH_DROPPED and len(store) == 1


def test_merge_refuses_mixed_copies():
    dag = dag_of([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])
    one = _copies_at_join(new_task(dag, task_id=1))[0]
    other = _copies_at_join(new_task(dag, task_id=2))[1]
    with pytest.raises(InvalidInput, match="different tasks"):
        merge([one, other])
    with pytest.raises(InvalidInput, match="nothing"):
        merge([])


def test_merge_unites_accuracy_and_keeps_latest_finish():
    task = new_task(dag_of([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]))
    from_b, from_c = _copies_at_join(task)
    from_b.accuracy, from_b.finished_at = {"b": 0.5}, 10.0
    from_c.accuracy, from_c.finished_at = {"c": 0.75}, 12.0
    merged = merge([from_b, from_c])
    assert merged.accuracy == {"b": 0.5, "c": 0.75} and merged.finished_at == 12.0
    assert merged.came_from is None and merged.cursor == "d"


def test_store_settings_are_checked():
    with pytest.raises(InvalidInput):
        JoinStore(timeout=0)
    with pytest.raises(InvalidInput):
        JoinStore(capacity=0)


def test_a_sibling_arriving_after_its_branch_was_dropped_is_dropped_at_once():
    """The branch through c is dropped before the one through b reaches d: b's copy is not left waiting for
    the timeout. The same drop does not touch a join it could never have reached (another root, or a stage
    that is not downstream of where it was dropped), and the memory of it ends with the timeout."""
    clock = [100.0]
    dag = dag_of([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])
    task = new_task(dag)
    from_b, _ = _copies_at_join(task)
    store = JoinStore(timeout=30, clock=lambda: clock[0])
    assert store.abandon(task.root_uuid, downstream(task.dag, "c")) == []  # nothing waits yet
    outcome = store.add(from_b)
    ((late, message),) = outcome.dropped
    assert outcome.merged is None and len(store) == 0
    (record,) = late.drop_records(message, node="cloud")
    assert record.reason is DropReason.BRANCH_DROPPED and record.task_uuid == from_b.task_uuid
    assert record.stage == "d" and "sibling branch was dropped" in record.message

    other_b, other_c = _copies_at_join(new_task(dag, task_id=1))  # another root joins as usual
    assert store.add(other_b).merged is None
    assert store.add(other_c).merged is not None

    upstream = new_task(dag, task_id=2)
    assert store.abandon(upstream.root_uuid, downstream(upstream.dag, "d")) == []  # dropped after the join
    assert store.add(_copies_at_join(upstream)[0]).dropped == []  # d is not downstream of d: it waits

    expired = new_task(dag, task_id=3)
    store.abandon(expired.root_uuid, downstream(expired.dag, "b"))
    clock[0] += 30
    store.expire()
    assert store.add(_copies_at_join(expired)[1]).dropped == []  # remembered for the timeout only


def test_a_drop_gives_up_only_the_joins_downstream_of_it():
    """Nested forks: a copy dropped at c dooms the join at g (c feeds it) but not the one at f (fed by d, e)."""
    dag = dag_of([("a", "b"), ("a", "c"), ("b", "d"), ("b", "e"), ("d", "f"), ("e", "f"), ("f", "g"), ("c", "g")])
    assert downstream(dag, "c") == {"g", END} and downstream(dag, "d") == {"f", "g", END}
    task = new_task(dag)
    store = JoinStore(timeout=30)
    (at_a,) = advance(task)
    at_b, at_c = sorted(advance(at_a), key=lambda t: t.cursor)
    at_d, at_e = sorted(advance(at_b), key=lambda t: t.cursor)
    assert store.abandon(task.root_uuid, downstream(task.dag, at_c.cursor)) == []
    (d_at_f,), (e_at_f,) = advance(at_d), advance(at_e)
    assert store.add(d_at_f).merged is None
    at_f = store.add(e_at_f).merged
    assert at_f is not None  # f still joins: c never fed it
    at_f.stage.done = True
    (f_at_g,) = advance(at_f)
    ((late, _),) = store.add(f_at_g).dropped  # g cannot join without c: dropped at once
    assert late.drop_reason is DropReason.BRANCH_DROPPED and late.key.stage == "g"
