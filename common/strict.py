"""Numbers and flags taken as JSON writes them: the field types of every request body's numbers and booleans.

pydantic's default (lax) mode turns JSON ``true``/``false`` into 1/0 where an integer or a number is
declared, a numeric string (``"3"``) into a number, and ``0``, ``1``, ``"yes"`` or ``"off"`` into a
boolean; the JSON Schema it publishes says ``integer``, ``number`` and ``boolean``. A body that said
``"task_id": false`` was therefore taken as task 0 instead of refused. The types here take exactly what
their schema says, and a value of another type is refused with the field's name, whichever way the body
is validated (``model_validate_json``, or as Python objects after ``json.loads``, as FastAPI does).

Only these scalars are strict, not whole models (``ConfigDict(strict=True)``): a strict model would refuse,
from a JSON body read as Python objects, an enum given by its value, a tuple given as a list and a date
given as a string. What stays accepted, as the schema allows it:

- an integer where a number is declared (``3`` for ``3.0``), in JSON as in Python;
- in code that builds a model from values, any number where a number is declared (NumPy's ``float32``
  or ``int64`` too), and a Python ``int`` where an integer is.

A NumPy integer is not a Python ``int`` and is refused where an integer is declared: convert it
(``int(x)``) where it is made. Query and path parameters and form fields do not use these types: they
are text in HTTP, parsed by FastAPI from their strings.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, Strict

StrictInt = Annotated[int, Strict()]
"""A JSON integer: not ``true``/``false``, not ``"3"``, not ``3.5`` nor ``3.0``."""
StrictFloat = Annotated[float, Strict()]
"""A JSON number, integer or not: not ``true``/``false``, not ``"3"``."""
StrictBool = Annotated[bool, Strict()]
"""``true`` or ``false``: not ``0``/``1``, not ``"true"``."""
NonNegativeFloat = Annotated[float, Strict(), Field(ge=0)]
"""A :data:`StrictFloat` at least 0."""
