"""The targets ``make bench`` judges its figures against, and the section that measures each."""

from __future__ import annotations

TARGETS: list[tuple[str, str, float]] = [
    # (dotted figure pattern, comparison, bound); a pattern that matches nothing is reported as not measured
    ("hop_ratio_vs_floor.1MB", "<=", 1.3),
    ("hop_overhead_ms_p50.1MB", "<=", 5.0),
    ("passthrough_ratio_vs_floor", ">=", 0.8),
    ("passthrough_tasks_per_s", ">=", 100.0),
    ("passthrough_cpu_ms_per_task.controller-cloud", "<=", 2.5),
    ("throughput_ratio_vs_inprocess.1t", ">=", 0.95),
    ("throughput_ratio_vs_inprocess.[!1]*t", ">=", 0.90),
    ("schedule_ms_p99", "<=", 10.0),
    ("rss_mb.controller-cloud", "<=", 150.0),
    ("rss_mb.distributor", "<=", 150.0),
    ("rss_mb.scheduler", "<=", 150.0),
    ("e2e_ratio_vs_bound.*.p50", "<=", 1.15),
    ("scale.max_streams_ratio_vs_bound", ">=", 0.8),
    ("scale.overload_ratio", ">=", 0.9),
    ("scale.rss_mb.generator", "<=", 150.0),
    ("apps.text-detection.peak_rss_mb", "<=", 700.0),
]
TARGET_SECTIONS = {
    "hop": "hop",
    "passthrough": "passthrough",
    "throughput": "face",
    "schedule": "schedule",
    "rss_mb": "hop",
    "e2e": "e2e",
    "scale": "scale",
    "apps": "apps",
}
