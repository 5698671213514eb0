"""Request bodies with one value replaced, for the tests that send a body valid but for one field."""

from __future__ import annotations

import copy
from typing import Any

NOT_NUMBERS: tuple[object, ...] = (False, True, "3")
"""What pydantic's lax mode took for a number: JSON booleans (as 0 and 1) and a numeric string."""


def with_value(body: dict[str, Any], path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    """A deep copy of ``body`` with the value at ``path`` (keys and list indices) replaced by ``value``."""
    changed = copy.deepcopy(body)
    target: Any = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed
