"""Structured logging: every record carries the service name and, when known, source and task ids."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

_source_id: ContextVar[str | None] = ContextVar("dayu_source_id", default=None)
_task_id: ContextVar[str | None] = ContextVar("dayu_task_id", default=None)


@contextlib.contextmanager
def task_context(source_id: str | None = None, task_id: int | str | None = None) -> Iterator[None]:
    """Tag every log record emitted inside the block with the source and task."""
    t1 = _source_id.set(source_id)
    t2 = _task_id.set(None if task_id is None else str(task_id))
    try:
        yield
    finally:
        _source_id.reset(t1)
        _task_id.reset(t2)


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.source_id = _source_id.get()
        record.task_id = _task_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "service": getattr(record, "service", None),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("source_id", "task_id"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ids = ""
        if getattr(record, "source_id", None) is not None:
            ids = f" [{getattr(record, 'source_id', None)}#{getattr(record, 'task_id', None) or '-'}]"
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        text = f"{stamp} {record.levelname:<7} {getattr(record, 'service', '-')}{ids} {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(service: str, level: str = "INFO", *, json_lines: bool = False) -> None:
    """Route the root logger to stderr with the service's filter and format (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_dayu", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._dayu = True  # type: ignore[attr-defined]
    handler.addFilter(_ContextFilter(service))
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
