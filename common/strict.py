"""Numbers and flags taken as JSON Schema says: the field types of every request body's numbers and booleans.

pydantic's default (lax) mode turns JSON ``true``/``false`` into 1/0 where an integer or a number is
declared, a numeric string (``"3"``) into a number, and ``0``, ``1``, ``"yes"`` or ``"off"`` into a
boolean; the JSON Schema it publishes says ``integer``, ``number`` and ``boolean``. A body that said
``"task_id": false`` was therefore taken as task 0 instead of refused. The types here, named after the
JSON Schema types they publish, take values of that type and refuse the rest with the field's name,
whichever way the body is validated (``model_validate_json``, or as Python objects after ``json.loads``,
as FastAPI and the scheduler do):

- :data:`Integer`: an integer written as one (``3``); not a boolean, not a string, and not ``3.0``,
  which JSON Schema's ``integer`` would take: no client of these bodies writes an integer so, and a
  check that let it through would sit outside pydantic's integer schema and change the published
  bounds (a before-validator turns ``minimum`` into an unknown ``ge`` keyword).
- :data:`Number`: any number, integers included (``3`` for ``3.0``); not a boolean, not a string.
- :data:`Boolean`: ``true`` or ``false`` only.

Only these scalars are strict, not whole models (``ConfigDict(strict=True)``): a strict model would also
refuse, from a JSON body read as Python objects, an enum given by its value, a tuple given as a list and a
date given as a string. Code that builds a model from values keeps working with Python numbers and with
NumPy floats; a NumPy integer is not a Python ``int``: convert it (``int(x)``) where it is made. Query and
path parameters and form fields do not use these types: they are text in HTTP, parsed by FastAPI from
their strings.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, Strict

Integer = Annotated[int, Strict()]
"""JSON Schema's ``integer``, written as one: ``3``; not ``true``/``false``, not ``"3"``, not ``3.5`` nor ``3.0``."""
Number = Annotated[float, Strict()]
"""JSON Schema's ``number``: ``3`` or ``3.5``; not ``true``/``false``, not ``"3"``."""
Boolean = Annotated[bool, Strict()]
"""JSON Schema's ``boolean``: ``true`` or ``false``; not ``0``/``1``, not ``"true"``."""
NonNegativeNumber = Annotated[float, Strict(), Field(ge=0)]
"""A :data:`Number` at least 0."""
