"""The soak's ``--stop-at HH:MM``: the next such time, so a run started before midnight is not cut to zero."""

from __future__ import annotations

import datetime

from tests.faults.soak import seconds_until


def at(hour: int, minute: int) -> datetime.datetime:
    return datetime.datetime(2026, 12, 3, hour, minute, tzinfo=datetime.UTC)


def test_a_time_later_today_is_today() -> None:
    assert seconds_until("23:50", at(23, 40)) == 600


def test_a_time_already_passed_today_is_tomorrow() -> None:
    assert seconds_until("00:53", at(23, 40)) == 73 * 60
    assert seconds_until("23:40", at(23, 40)) == 24 * 3600
