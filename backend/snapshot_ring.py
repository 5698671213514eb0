"""The system history the backend serves: the newest snapshots, bounded, kept as their JSON text.

A snapshot kept as its pydantic model costs about five times its JSON text in live objects; with the
template's 2000 snapshots that was megabytes of the backend's memory filling for over an hour after an
install. Readers take few of them at a time (the dashboard asks only for those after its last one), so
parsing on the way out costs little, and the export writes the text as it is.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable

from backend.contracts.views import SystemSnapshot


class SnapshotRing:
    def __init__(self, keep: int, initial: Iterable[SystemSnapshot] = ()) -> None:
        self._items: collections.deque[tuple[float, str]] = collections.deque(maxlen=keep)
        for snapshot in initial:
            self.append(snapshot)

    @property
    def keep(self) -> int:
        return self._items.maxlen or 1

    def __len__(self) -> int:
        return len(self._items)

    def append(self, snapshot: SystemSnapshot) -> None:
        self._items.append((snapshot.at, snapshot.model_dump_json()))

    def after(self, at: float) -> list[SystemSnapshot]:
        """The snapshots taken after ``at`` (wall clock seconds), oldest first."""
        return [SystemSnapshot.model_validate_json(text) for taken, text in self._items if taken > at]

    def json_lines(self) -> bytes:
        """Every kept snapshot as JSON Lines, oldest first."""
        return "".join(text + "\n" for _, text in list(self._items)).encode()
