"""Service DAGs: build from a user description, validate, order, fork, join, critical path.

A user describes stages (name + service) and edges. :func:`build_dag` adds the sentinels ``_start``
(the source node) and ``_end`` (the distributor): stages without predecessors hang off ``_start``,
stages without successors feed ``_end``. Validation errors are :class:`DagError` naming the stage.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from common.errors import DagError, InvalidInput
from common.task import END, SENTINELS, START, Stage, StageTimings, Task

ANY_TYPE = "any"


class ServiceType(BaseModel):
    """What a service consumes and produces (``frame``, ``bbox``, ``text``, ... or ``any``)."""

    model_config = ConfigDict(extra="forbid")

    input: str = Field(description="Type the service consumes.")
    output: str = Field(description="Type the service produces.")


class StageSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    service: str = Field(min_length=1)
    next: list[str] = Field(default_factory=list, description="Successor stage names.")


class DagSpec(BaseModel):
    """A DAG as a user writes it: stages, and edges either per stage (``next``) or as pairs."""

    model_config = ConfigDict(extra="forbid")

    stages: list[StageSpec] = Field(min_length=1)
    edges: list[tuple[str, str]] = Field(default_factory=list)


def _types(catalog: Mapping[str, ServiceType], service: str) -> ServiceType:
    if service == START:
        return ServiceType(input=ANY_TYPE, output="frame")
    if service == END:
        return ServiceType(input=ANY_TYPE, output=ANY_TYPE)
    return catalog[service]


def _compatible(produced: str, consumed: str) -> bool:
    return ANY_TYPE in (produced, consumed) or produced == consumed


def build_dag(spec: DagSpec, catalog: Mapping[str, ServiceType]) -> dict[str, Stage]:
    """Turn a user description into validated stages including ``_start`` and ``_end``."""
    stages: dict[str, Stage] = {}
    for s in spec.stages:
        if s.name in SENTINELS:
            raise DagError(f"stage name {s.name!r} is reserved", stage=s.name)
        if s.name in stages:
            raise DagError(f"stage {s.name!r} is defined twice", stage=s.name)
        if s.service not in catalog:
            known = ", ".join(sorted(catalog)) or "none"
            raise DagError(f"stage {s.name!r} uses unknown service {s.service!r}; known: {known}", stage=s.name)
        stages[s.name] = Stage(name=s.name, service=s.service)

    edges: list[tuple[str, str]] = [(s.name, n) for s in spec.stages for n in s.next] + list(spec.edges)
    seen: set[tuple[str, str]] = set()
    for a, b in edges:
        for endpoint in (a, b):
            if endpoint not in stages:
                raise DagError(f"edge {a!r} -> {b!r} names unknown stage {endpoint!r}", stage=endpoint)
        if a == b:
            raise DagError(f"stage {a!r} has an edge to itself (a cycle)", stage=a)
        if (a, b) in seen:
            raise DagError(f"duplicate edge {a!r} -> {b!r}", stage=a)
        seen.add((a, b))
        stages[a].next.append(b)
        stages[b].prev.append(a)

    start: Stage = Stage(name=START, service=START)
    end = Stage(name=END, service=END)
    for stage_name, stage in stages.items():
        if not stage.prev:
            stage.prev.append(START)
            start.next.append(stage_name)
        if not stage.next:
            stage.next.append(END)
            end.prev.append(stage_name)
    dag: dict[str, Stage] = {START: start, **stages, END: end}
    validate_dag(dag, catalog)
    return dag


def validate_dag(dag: Mapping[str, Stage], catalog: Mapping[str, ServiceType]) -> None:
    """Check a complete DAG (with sentinels). Raises :class:`DagError` naming the stage at fault.

    The checks run in this order, so a DAG wrong in several ways is named by the first: the sentinels, each
    stage's name and service, each stage's edges (both ends agree, types match), no cycle, and every stage
    on a path from ``_start`` to ``_end``."""
    _check_sentinels(dag)
    for name, stage in dag.items():
        _check_stage(name, stage, catalog)
    for name, stage in dag.items():
        _check_edges(dag, name, stage, catalog)
    topological_order(dag)  # raises on a cycle
    _check_on_a_path(dag)


def _check_sentinels(dag: Mapping[str, Stage]) -> None:
    for sentinel in SENTINELS:
        if sentinel not in dag:
            raise DagError(f"the DAG lacks its {sentinel} stage", stage=sentinel)
    if dag[START].prev:
        raise DagError("_start cannot have predecessors", stage=START)
    if dag[END].next:
        raise DagError("_end cannot have successors", stage=END)


def _check_stage(name: str, stage: Stage, catalog: Mapping[str, ServiceType]) -> None:
    """The stage is filed under its own name and runs a service of the catalog (a sentinel: its own)."""
    if stage.name != name:
        raise DagError(f"stage key {name!r} does not match its name {stage.name!r}", stage=name)
    if name in SENTINELS and stage.service != name:
        raise DagError(f"sentinel stage {name!r} must use service {name!r}, not {stage.service!r}", stage=name)
    if name not in SENTINELS and stage.service not in catalog:
        known = ", ".join(sorted(catalog)) or "none"
        raise DagError(f"stage {name!r} uses unknown service {stage.service!r}; known: {known}", stage=name)


def _check_edges(dag: Mapping[str, Stage], name: str, stage: Stage, catalog: Mapping[str, ServiceType]) -> None:
    """Each edge is listed once, at both of its ends, and carries what the next stage takes."""
    if len(set(stage.next)) != len(stage.next) or len(set(stage.prev)) != len(stage.prev):
        raise DagError(f"stage {name!r} has a duplicate edge", stage=name)
    for succ in stage.next:
        if succ not in dag:
            raise DagError(f"stage {name!r} links to unknown stage {succ!r}", stage=name)
        if name not in dag[succ].prev:
            raise DagError(f"edge {name!r} -> {succ!r} is missing from {succ!r}'s predecessors", stage=succ)
        _check_types(name, stage, succ, dag[succ], catalog)
    for pred in stage.prev:
        if pred not in dag or name not in dag[pred].next:
            raise DagError(f"stage {name!r} names {pred!r} as predecessor without the edge", stage=name)


def _check_types(name: str, stage: Stage, succ: str, after: Stage, catalog: Mapping[str, ServiceType]) -> None:
    produced = _types(catalog, stage.service).output
    consumed = _types(catalog, after.service).input
    if not _compatible(produced, consumed):
        raise DagError(
            f"stage {succ!r} ({after.service}) takes {consumed!r} but {name!r} ({stage.service}) produces {produced!r}",
            stage=succ,
        )


def _check_on_a_path(dag: Mapping[str, Stage]) -> None:
    """Every stage is reached from ``_start`` and leads to ``_end``."""
    reach_fwd = _reachable(dag, START, forward=True)
    for name in dag:
        if name not in reach_fwd:
            raise DagError(f"stage {name!r} cannot be reached from _start", stage=name)
    reach_back = _reachable(dag, END, forward=False)
    for name in dag:
        if name not in reach_back:
            raise DagError(f"stage {name!r} never leads to _end", stage=name)


def _reachable(dag: Mapping[str, Stage], origin: str, *, forward: bool) -> set[str]:
    seen = {origin}
    todo = [origin]
    while todo:
        current = todo.pop()
        neighbours = dag[current].next if forward else dag[current].prev
        for other in neighbours:
            if other in dag and other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def downstream(dag: Mapping[str, Stage], stage: str) -> set[str]:
    """Every stage a copy at ``stage`` would still reach (not ``stage`` itself)."""
    return _reachable(dag, stage, forward=True) - {stage} if stage in dag else set()


def topological_order(dag: Mapping[str, Stage]) -> list[str]:
    """Kahn's algorithm; a cycle raises :class:`DagError` naming a stage on it."""
    indegree = {name: 0 for name in dag}
    for stage in dag.values():
        for succ in stage.next:
            if succ in indegree:
                indegree[succ] += 1
    ready = sorted(name for name, d in indegree.items() if d == 0)
    order: list[str] = []
    while ready:
        name = ready.pop(0)
        order.append(name)
        for succ in dag[name].next:
            if succ in indegree:
                indegree[succ] -= 1
                if indegree[succ] == 0:
                    ready.append(succ)
    if len(order) != len(dag):
        cycle = _find_cycle(dag, {name for name, d in indegree.items() if d > 0})
        path = " -> ".join([*cycle, cycle[0]])
        raise DagError(
            f"the DAG has a cycle through stage {cycle[0]!r}: {path}", stage=cycle[0], detail={"cycle": cycle}
        )
    return order


def _find_cycle(dag: Mapping[str, Stage], stuck: set[str]) -> list[str]:
    """One cycle among the stages Kahn's algorithm could not order (some are only downstream of it)."""
    preds: dict[str, list[str]] = {name: [] for name in stuck}
    for name in stuck:
        for succ in dag[name].next:
            if succ in stuck:
                preds[succ].append(name)
    # Every stuck stage has a stuck predecessor (its in-degree never reached 0), so walking
    # predecessors must come back to a stage already seen: that loop is a cycle.
    current = min(stuck)
    walk: list[str] = []
    seen: dict[str, int] = {}
    while current not in seen:
        seen[current] = len(walk)
        walk.append(current)
        current = min(preds[current])
    cycle = list(reversed(walk[seen[current] :]))
    first = cycle.index(min(cycle))
    return cycle[first:] + cycle[:first]


# -- fork and join --------------------------------------------------------------------------


def _derived_uuid(*parts: str) -> str:
    # Deterministic, so a retried fork or join produces the same identity (idempotent storage).
    return uuid.uuid5(uuid.NAMESPACE_OID, "/".join(parts)).hex


def advance(task: Task) -> list[Task]:
    """Copies of ``task`` moved to each successor of its current stage.

    One successor: the same task moves on (same uuid). Several: a fork, one copy per successor with
    a new ``task_uuid`` and ``parent_uuid`` set to the forking copy.
    """
    successors = task.stage.next
    if not successors:
        raise InvalidInput(f"stage {task.cursor!r} has no successor", detail={"stage": task.cursor})
    if len(successors) == 1:
        return [task.with_cursor(successors[0])]
    copies = []
    for succ in successors:
        copy = task.with_cursor(succ)
        copy.parent_uuid = task.task_uuid
        copy.task_uuid = _derived_uuid(task.task_uuid, "fork", succ)
        copies.append(copy)
    return copies


def needs_join(task: Task) -> bool:
    """True when the stage the task is at has several predecessors."""
    return len(task.stage.prev) > 1


@dataclass(frozen=True)
class JoinKey:
    root_uuid: str
    stage: str


def join_key(task: Task) -> JoinKey:
    return JoinKey(task.root_uuid, task.cursor)


def merge(copies: Iterable[Task]) -> Task:
    """Merge the copies that reached one joining stage into one task carrying every branch's results.

    Stage data is taken from whichever copy ran the stage; common ancestors are identical in each
    copy. The merged task gets a deterministic uuid derived from the root and the joining stage.
    """
    items = list(copies)
    if not items:
        raise InvalidInput("nothing to merge")
    first = items[0]
    for other in items[1:]:
        if other.root_uuid != first.root_uuid or other.cursor != first.cursor:
            raise InvalidInput(
                "cannot merge copies of different tasks or stages",
                detail={"roots": [first.root_uuid, other.root_uuid], "stages": [first.cursor, other.cursor]},
            )
        if set(other.dag) != set(first.dag):
            raise InvalidInput("cannot merge copies with different DAGs")
    merged = first.model_copy(deep=True)
    for name in merged.dag:
        done = [c.dag[name] for c in items if c.dag[name].done]
        if done:
            merged.dag[name] = done[0].model_copy(deep=True)
    # Each branch reached the joining stage over its own edge: keep every branch's transmit so the
    # critical path can charge each edge with its own transfer.
    joining = merged.dag[first.cursor].timings
    for copy in items:
        incoming = copy.dag[copy.cursor].timings
        if copy.came_from is not None and incoming.transmit is not None:
            joining.transmit_from.setdefault(copy.came_from, incoming.transmit)
        for pred, seconds in incoming.transmit_from.items():
            joining.transmit_from.setdefault(pred, seconds)
    if joining.transmit_from:
        joining.transmit = max(joining.transmit_from.values())
    scores: dict[str, float] = {}
    for copy in items:
        scores.update(copy.accuracy or {})
    merged.accuracy = scores or None
    merged.finished_at = max((c.finished_at for c in items if c.finished_at is not None), default=None)
    merged.came_from = None
    merged.parent_uuid = first.task_uuid
    merged.task_uuid = _derived_uuid(first.root_uuid, "join", first.cursor)
    merged.payload = first.payload.model_copy(deep=True)
    return merged


def critical_path(dag: Mapping[str, Stage]) -> tuple[float, list[str]]:
    """Longest path from ``_start`` to ``_end`` where each stage weighs ``transmit + execute``.

    At a joining stage the transmit is charged per incoming edge (``timings.transmit_from``) when the
    branches' transfers are known, so the slowest branch *including its own upload* decides.
    """
    best: dict[str, tuple[float, list[str]]] = {}
    for name in topological_order(dag):
        stage = dag[name]
        timings = stage.timings
        execute = timings.execute or 0.0
        candidates = [
            (best[p][0] + timings.transmit_from.get(p, timings.transmit or 0.0) + execute, [*best[p][1], name])
            for p in stage.prev
            if p in best
        ]
        best[name] = max(candidates, key=lambda item: item[0]) if candidates else (timings.cost(), [name])
    return best.get(END, (0.0, []))


def stage_timings(dag: Mapping[str, Stage]) -> dict[str, StageTimings]:
    return {name: stage.timings for name, stage in dag.items()}
