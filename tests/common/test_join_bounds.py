"""The join store's memory of dropped roots stays at its bound under a steady stream of drops.

The distributor's memory soak (``docs/reliability.md``, "Memory") found the root uuids of drop records,
kept by :meth:`JoinStore.abandon` so a late copy of a dropped root is refused, among its few Python-level
growth sites: they must stop at the store's capacity, not grow with every drop of a long run."""

from __future__ import annotations

import uuid

from common.join import JoinStore


def test_dropped_roots_are_remembered_up_to_the_capacity() -> None:
    now = [0.0]
    store = JoinStore(timeout=30.0, capacity=50, clock=lambda: now[0])
    roots = [str(uuid.uuid4()) for _ in range(1000)]
    for root in roots:
        now[0] += 0.001  # all within the timeout: only the capacity bounds them
        assert store.abandon(root) == []
    assert len(store._doomed) == 50
    assert list(store._doomed) == roots[-50:]  # the newest kept, the oldest forgotten
