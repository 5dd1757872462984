"""Times editors type: ISO 8601 ("2026-12-01T08:00", "2026-12-01 08:00+01:00") or relative
("in 2h", "in 1d 30m", "in 90 minutes", "now"). Naive times are in the newsroom's zone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
}  # fmt: skip
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")


def parse_duration(text: str) -> timedelta:
    """ "2h30m", "1d 2h", "90 minutes" → timedelta."""
    rest = text.strip().lower().replace(",", " ").replace(" and ", " ")
    seconds = 0.0
    position = 0
    for match in _PART.finditer(rest):
        if rest[position : match.start()].strip():
            break
        unit = _UNITS.get(match.group(2))
        if unit is None:
            raise ValueError(f"unknown time unit {match.group(2)!r} in {text!r}")
        seconds += float(match.group(1)) * unit
        position = match.end()
    if position == 0 or rest[position:].strip():
        raise ValueError(f"cannot read {text!r} as a duration (try '2h', '1d 30m', '90 minutes')")
    return timedelta(seconds=seconds)


def parse_when(text: str, *, now: datetime, zone: tzinfo) -> datetime:
    """An aware UTC datetime for ``text``; raises ValueError naming what could not be read."""
    try:
        return _parse_when(text, now=now, zone=zone)
    except OverflowError:  # "in 99999999 weeks", or year 9999 in a zone east of UTC
        raise ValueError(f"{text[:80]!r} is out of the range of times") from None


def _parse_when(text: str, *, now: datetime, zone: tzinfo) -> datetime:
    value = text.strip()
    lowered = value.lower()
    if lowered == "now":
        return now.astimezone(UTC)
    if lowered.startswith("in "):
        return (now + parse_duration(lowered[3:])).astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"cannot read {text!r} as a time: use ISO 8601 (2026-12-01T08:00) or 'in 2h'"
        ) from None
    return as_aware(parsed, zone)


def as_aware(value: datetime | date, zone: tzinfo) -> datetime:
    """A naive datetime (or a bare date, at midnight) is read in ``zone``; the result is UTC."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0, 0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)
