"""What every ``python -m <component>`` does: read its settings, check them, build its app, then serve.

A bad or missing environment variable, config file or topology prints one line naming it and what was
wrong (``dayu-<name>: $DAYU_PORT: ...`` or ``dayu-<name>: path/file.yaml:12: field: problem``) and exits
with status 2, instead of a traceback. The components differ only in the parts :func:`run_component`
takes; :func:`serve_service` fills them in for the six runtime components.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from fastapi import FastAPI
from pydantic import ValidationError

from common.config import ServiceSettings
from common.errors import DayuError
from common.listen import serve
from common.service import load_topology

EXIT_CONFIG = 2

S = TypeVar("S")
Svc = TypeVar("Svc", bound=ServiceSettings)


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


def run_component(
    name: str,
    read_settings: Callable[[], S],
    create_app: Callable[[S], FastAPI],
    serve: Callable[[FastAPI, S], object],
    *,
    check: Callable[[S], object] | None = None,
    prepare: Callable[[], object] | None = None,
) -> None:
    """``prepare()`` (process-wide set-up, before anything is allocated), then the settings, ``check`` (what
    the app reads again only once it starts, named now rather than as a traceback at startup) and the app,
    all under :func:`one_line_errors`; then ``serve`` runs outside it, since an error while serving is not a
    setting's."""
    if prepare is not None:
        prepare()
    with one_line_errors(name):
        settings = read_settings()
        if check is not None:
            check(settings)
        app = create_app(settings)
    serve(app, settings)


def serve_service(
    name: str,
    read_settings: Callable[[], Svc],
    create_app: Callable[[Svc], FastAPI],
    *,
    prepare: Callable[[], object] | None = None,
) -> None:
    """:func:`run_component` for a runtime component: its topology is checked before the app is built, and
    it listens through :func:`common.listen.serve` (TCP, and a Unix socket when given one)."""
    run_component(name, read_settings, create_app, serve, check=load_topology, prepare=prepare)
