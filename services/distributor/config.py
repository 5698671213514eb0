"""The distributor's own config (``DAYU_CONFIG``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DistributorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    database: str | None = Field(
        None, description="SQLite file; default: <work_dir>/results.sqlite3, or results-<run_id>.sqlite3."
    )
    run_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="One install's name: its results go to a database of their own, apart from earlier runs.",
    )
    max_records: int = Field(100_000, ge=10, description="Records kept (results and drops); the oldest go first.")
    max_segments: int = Field(200, ge=1, description="Segment files kept for display; the oldest go first.")
    max_payload_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="Largest segment accepted.")
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="Largest JSON body accepted (drop records).")
    page_limit: int = Field(1000, ge=1, le=10_000, description="Most records one GET /results answers.")
    export_page: int = Field(500, ge=1, le=10_000, description="Rows read per page while exporting.")
    join_timeout: float = Field(30.0, gt=0, description="Seconds a join at _end waits for its other branches.")
    join_capacity: int = Field(1000, ge=1, description="Joins waiting at once at most.")
    scheduler_url: str | None = Field(None, description="Where feedback goes; default: the topology's scheduler.")
    feedback: bool = Field(True, description="Forward results and drops to the scheduler.")
    feedback_queue: int = Field(1000, ge=1, description="Feedback sends waiting at most; beyond, feedback is skipped.")
    feedback_retries: int = Field(3, ge=0, le=10, description="Retries of one feedback send.")
    feedback_timeout: float = Field(5.0, gt=0, le=120, description="Seconds per feedback send attempt.")
