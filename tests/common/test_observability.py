"""Structured logging with source/task ids, per-app Prometheus metrics, and the error hierarchy."""

from __future__ import annotations

import json
import logging

import pytest

from common.errors import (
    ConfigError,
    DagError,
    DayuError,
    DecodeError,
    HookError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    TransportError,
    Unauthorized,
    UpstreamTimeout,
)
from common.log import JsonFormatter, _ContextFilter, configure_logging, task_context
from common.metrics import ServiceMetrics

pytestmark = pytest.mark.unit


def record(message: str) -> logging.LogRecord:
    rec = logging.LogRecord("dayu.test", logging.INFO, __file__, 1, message, None, None)
    _ContextFilter("processor").filter(rec)
    return rec


def test_json_lines_carry_service_source_and_task():
    with task_context("cam-1", 42):
        inside = json.loads(JsonFormatter().format(record("segment done")))
    outside = json.loads(JsonFormatter().format(record("idle")))
    assert inside["service"] == "processor" and inside["source_id"] == "cam-1" and inside["task_id"] == "42"
    assert inside["msg"] == "segment done" and inside["level"] == "INFO"
    assert "source_id" not in outside and "task_id" not in outside


def test_configure_logging_is_idempotent_and_text_format_tags_ids(capsys):
    root = logging.getLogger()
    level = root.level
    try:
        configure_logging("ctl", "debug")
        configure_logging("ctl", "INFO")
        ours = [h for h in root.handlers if getattr(h, "_dayu", False)]
        assert len(ours) == 1 and root.level == logging.INFO
        with task_context("cam-2", 7):
            logging.getLogger("x").warning("late frame")
        err = capsys.readouterr().err
        assert "WARNING" in err and "ctl [cam-2#7] late frame" in err
    finally:
        for h in [h for h in root.handlers if getattr(h, "_dayu", False)]:
            root.removeHandler(h)
        root.setLevel(level)


def test_metrics_registries_are_per_app_and_get_or_create():
    one, two = ServiceMetrics("a"), ServiceMetrics("b")
    tasks = one.counter("tasks_total", "tasks", ["source"])
    assert one.counter("tasks_total", "tasks", ["source"]) is tasks
    tasks.labels("cam-1").inc(3)
    one.gauge("queue_length", "queue").set(5)
    one.histogram("service_seconds", "model time").observe(0.02)
    text = one.render()[0].decode()
    assert 'dayu_tasks_total{source="cam-1"} 3.0' in text and "dayu_queue_length 5.0" in text
    assert "dayu_service_seconds_count 1.0" in text
    assert "dayu_tasks_total" not in two.render()[0].decode()


def test_metric_kind_clash_is_refused():
    metrics = ServiceMetrics("a")
    metrics.counter("x", "doc")
    with pytest.raises(InvalidInput, match="already a"):
        metrics.gauge("x", "doc")


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (InvalidInput("m"), 400, "invalid_input"),
        (ConfigError("m"), 400, "invalid_config"),
        (DagError("m", stage="s"), 400, "invalid_dag"),
        (HookError("m"), 400, "invalid_hook"),
        (Unauthorized("m"), 401, "unauthorized"),
        (NotFound("m"), 404, "not_found"),
        (PayloadTooLarge("m"), 413, "payload_too_large"),
        (DecodeError("m"), 422, "decode_error"),
        (TransportError("m", url="u", status=503), 502, "upstream_error"),
        (UpstreamTimeout("m", url="u"), 504, "upstream_timeout"),
    ],
)
def test_error_hierarchy(error, status, code):
    assert isinstance(error, DayuError)
    assert (error.status_code, error.code, str(error)) == (status, code, "m")
    assert error.to_dict()["error"]["code"] == code


def test_error_details():
    assert DagError("m", stage="s").detail == {"stage": "s"}
    assert TransportError("m", url="u", status=503).detail == {"url": "u", "status": 503}
    assert InvalidInput("m", code="custom").code == "custom"
