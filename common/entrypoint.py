"""What every ``python -m <component>`` does before it serves: settings and config errors as one line.

A bad or missing environment variable, config file or topology prints one line naming it and what was
wrong (``dayu-<name>: $DAYU_PORT: ...`` or ``dayu-<name>: path/file.yaml:12: field: problem``) and exits
with status 2, instead of a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import ValidationError

from common.errors import DayuError

EXIT_CONFIG = 2


def fail(name: str, message: str) -> None:
    print(f"dayu-{name}: {message}", file=sys.stderr)
    raise SystemExit(EXIT_CONFIG)


@contextmanager
def one_line_errors(name: str) -> Iterator[None]:
    """Around reading settings and building the app: an error there is the operator's, shown as one line."""
    try:
        yield
    except DayuError as exc:
        fail(name, exc.message)
    except ValidationError as exc:  # a settings model read without from_env()
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or exc.title
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        fail(name, f"{where}: {first['msg']}{more}")
    except OSError as exc:
        fail(name, f"{getattr(exc, 'filename', None) or 'file'}: {exc.strerror or exc}")
