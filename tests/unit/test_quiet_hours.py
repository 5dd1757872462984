"""Quiet hours: the window's bounds, its end across daylight-saving changes, the decision."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from distributor.config import QuietHoursConfig
from distributor.quiet_hours import decide, is_quiet, window_end

PARIS = ZoneInfo("Europe/Paris")
NIGHT = QuietHoursConfig.model_validate({"from": "22:00", "to": "07:00", "bypass_priority": 8})


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "quiet"),
    [
        (utc(2026, 1, 10, 20, 59), False),  # 21:59 in Paris (UTC+1)
        (utc(2026, 1, 10, 21, 0), True),  # 22:00: the window opens
        (utc(2026, 1, 10, 23, 30), True),  # after midnight in Paris
        (utc(2026, 1, 11, 5, 59), True),  # 06:59
        (utc(2026, 1, 11, 6, 0), False),  # 07:00: it has closed
    ],
)
def test_a_window_across_midnight_opens_and_closes_on_the_local_clock(
    now: datetime, quiet: bool
) -> None:
    assert is_quiet(NIGHT, PARIS, now) is quiet


def test_a_daytime_window() -> None:
    lunch = QuietHoursConfig.model_validate({"from": "12:00", "to": "14:00"})
    assert is_quiet(lunch, PARIS, utc(2026, 1, 10, 11, 0))  # 12:00 in Paris
    assert not is_quiet(lunch, PARIS, utc(2026, 1, 10, 13, 0))  # 14:00
    assert window_end(lunch, PARIS, utc(2026, 1, 10, 11, 30)) == utc(2026, 1, 10, 13, 0)


def test_the_window_ends_at_seven_local_across_the_spring_change() -> None:
    # 29 March 2026: Paris moves from UTC+1 to UTC+2 at 02:00; the night is an hour shorter.
    evening = utc(2026, 3, 28, 21, 30)  # 22:30 CET
    assert window_end(NIGHT, PARIS, evening) == utc(2026, 3, 29, 5, 0)  # 07:00 CEST
    assert is_quiet(NIGHT, PARIS, utc(2026, 3, 29, 4, 59))
    assert not is_quiet(NIGHT, PARIS, utc(2026, 3, 29, 5, 0))


def test_the_window_ends_at_seven_local_across_the_autumn_change() -> None:
    # 25 October 2026: back from UTC+2 to UTC+1 at 03:00; the night is an hour longer.
    evening = utc(2026, 10, 24, 20, 30)  # 22:30 CEST
    assert window_end(NIGHT, PARIS, evening) == utc(2026, 10, 25, 6, 0)  # 07:00 CET
    assert is_quiet(NIGHT, PARIS, utc(2026, 10, 25, 5, 59))
    assert not is_quiet(NIGHT, PARIS, utc(2026, 10, 25, 6, 0))


def test_decisions_hold_silent_and_bypass() -> None:
    night = utc(2026, 1, 10, 23, 0)
    assert decide(NIGHT, PARIS, night, 0).hold_until == utc(2026, 1, 11, 6, 0)
    bypass = decide(NIGHT, PARIS, night, 8)
    assert (bypass.hold_until, bypass.notify) == (None, True)
    silent = NIGHT.model_copy(update={"mode": "silent"})
    quiet = decide(silent, PARIS, night, 0)
    assert (quiet.hold_until, quiet.notify) == (None, False)
    day = decide(NIGHT, PARIS, utc(2026, 1, 10, 12, 0), 0)
    assert (day.hold_until, day.notify) == (None, True)
    assert decide(None, PARIS, night, 0).notify is True


def test_the_windows_own_zone_wins() -> None:
    tokyo = NIGHT.model_copy(update={"timezone": "Asia/Tokyo"})
    assert decide(tokyo, PARIS, utc(2026, 1, 10, 14, 0), 0).hold_until == utc(2026, 1, 10, 22, 0)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"from": "22:00", "to": "22:00"}, "the window would be empty"),
        ({"from": "25:00", "to": "07:00"}, "String should match pattern"),
        ({"from": "22:00", "to": "07:00", "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"from": "22:00", "to": "07:00", "mode": "loud"}, "'hold' or 'silent'"),
    ],
)
def test_bad_windows_are_refused(values: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        QuietHoursConfig.model_validate(values)
