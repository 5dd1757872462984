"""Quiet hours: whether a channel's window is open now, and when it closes.

Times are wall-clock times in the window's zone, so a window keeps its local hours across a
daylight-saving change (the night it spans is an hour shorter or longer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from distributor.config import QuietHoursConfig


@dataclass(frozen=True, slots=True)
class QuietDecision:
    """What quiet hours say about one post: send now, and with notifications or not.

    ``hold_until`` is set when the post must wait (``hold`` mode): the window's end, UTC.
    """

    hold_until: datetime | None = None
    notify: bool = True


SEND = QuietDecision()


def _clock_time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def is_quiet(window: QuietHoursConfig, zone: ZoneInfo, now: datetime) -> bool:
    """Whether ``now`` (aware) falls inside the window."""
    local = now.astimezone(zone).time().replace(tzinfo=None)
    start, end = _clock_time(window.start), _clock_time(window.end)
    if start < end:
        return start <= local < end
    return local >= start or local < end  # the window spans midnight


def window_end(window: QuietHoursConfig, zone: ZoneInfo, now: datetime) -> datetime:
    """The first moment after ``now`` at which the window closes (``to``, local), aware."""
    end = _clock_time(window.end)
    day = now.astimezone(zone).date()
    for offset in range(3):
        candidate = datetime.combine(day + timedelta(days=offset), end, tzinfo=zone)
        if candidate > now:
            return candidate.astimezone(now.tzinfo)
    raise AssertionError("a daily time always comes within two days")  # pragma: no cover


def decide(
    window: QuietHoursConfig | None, default_zone: ZoneInfo, now: datetime, priority: int
) -> QuietDecision:
    """What a post of ``priority`` does now on a channel with ``window``."""
    if window is None:
        return SEND
    zone = ZoneInfo(window.timezone) if window.timezone else default_zone
    if not is_quiet(window, zone, now):
        return SEND
    if window.bypass_priority is not None and priority >= window.bypass_priority:
        return SEND
    if window.mode == "silent":
        return QuietDecision(notify=False)
    return QuietDecision(hold_until=window_end(window, zone, now))
