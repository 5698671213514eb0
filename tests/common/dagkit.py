"""Helpers shared by the DAG and join tests: a service catalog, DAG builders and a controller-like walker."""

from __future__ import annotations

import random
from collections.abc import Mapping

from common.dag import DagSpec, ServiceType, StageSpec, advance, build_dag, needs_join
from common.join import JoinStore
from common.results import SegmentResult
from common.task import END, START, Stage, Task

CATALOG: dict[str, ServiceType] = {
    "detect": ServiceType(input="frame", output="bbox"),
    "classify": ServiceType(input="bbox", output="bbox"),
    "ocr": ServiceType(input="bbox", output="text"),
    "translate": ServiceType(input="text", output="text"),
    "anything": ServiceType(input="any", output="any"),
}


def dag_of(edges: list[tuple[str, str]], services: Mapping[str, str] | None = None) -> dict[str, Stage]:
    """Build a DAG from edges; every stage runs ``anything`` unless ``services`` says otherwise."""
    names: list[str] = []
    for a, b in edges:
        for n in (a, b):
            if n not in names:
                names.append(n)
    services = services or {}
    spec = DagSpec(stages=[StageSpec(name=n, service=services.get(n, "anything")) for n in names], edges=edges)
    return build_dag(spec, CATALOG)


def new_task(dag: dict[str, Stage], task_id: int = 1) -> Task:
    return Task(source_id="cam-1", task_id=task_id, source_node="edge1", dag=dag)


def walk(
    task: Task,
    *,
    execute: Mapping[str, float],
    transmit: Mapping[tuple[str, str], float],
    store: JoinStore,
    seed: int = 0,
) -> list[Task]:
    """Drive ``task`` through its DAG as controllers would, delivering copies in a shuffled order.

    The sender stamps each copy with the transmit of the edge it travelled; running a stage records
    its execute time, a result naming the stage, and a scenario. Returns the copies that reached ``_end``.
    """
    rng = random.Random(seed)
    in_flight = [task]
    finished: list[Task] = []
    for _ in range(1000):  # bounded: a DAG of a few stages needs far fewer deliveries
        if not in_flight:
            return finished
        current = in_flight.pop(rng.randrange(len(in_flight)))
        if current.cursor != START and needs_join(current):
            outcome = store.add(current)
            assert not outcome.dropped
            if outcome.merged is None:
                continue
            current = outcome.merged
        if current.cursor == END:
            finished.append(current)
            continue
        if current.cursor != START:
            stage = current.stage
            stage.result = SegmentResult(application=current.cursor)
            stage.scenario = {"obj_num": float(len(current.cursor))}
            stage.timings.execute = execute[current.cursor]
            stage.done = True
        for copy in advance(current):
            copy.stage.timings.transmit = transmit[(current.cursor, copy.cursor)]
            in_flight.append(copy)
    raise AssertionError("the walk did not finish")
