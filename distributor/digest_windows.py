"""When a channel's digests fall due: its cron schedule, read in the configured zone.

A window runs from the previous digest's end to the latest scheduled time that has passed,
so a worker that was down across several scheduled times sends one digest when it returns.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from distributor.config import DigestConfig

# Searching back this far covers any five-field schedule (the rarest fires once a year,
# or on 29 February: every four years).
_SPANS = (timedelta(hours=1), timedelta(days=1), timedelta(days=32), timedelta(days=1500))


def trigger(digest: DigestConfig, default_zone: ZoneInfo) -> CronTrigger:
    zone = ZoneInfo(digest.timezone) if digest.timezone else default_zone
    return CronTrigger.from_crontab(digest.schedule, timezone=zone)


def next_fire(cron: CronTrigger, after: datetime) -> datetime | None:
    """The first scheduled time strictly after ``after`` (aware), or None."""
    fire = cron.get_next_fire_time(None, after + timedelta(microseconds=1))
    return None if fire is None else fire.astimezone(after.tzinfo)


def latest_fire(cron: CronTrigger, now: datetime) -> datetime | None:
    """The latest scheduled time at or before ``now`` (aware), or None."""
    for span in _SPANS:
        fire = next_fire(cron, now - span)
        if fire is None or fire > now:
            continue
        while True:
            following = next_fire(cron, fire)
            if following is None or following > now:
                return fire
            fire = following
    return None


def next_window(
    cron: CronTrigger, last_end: datetime | None, now: datetime
) -> tuple[datetime, datetime | None]:
    """Where the next window starts (the last digest's end) and when it is scheduled to close.

    Without a digest yet, the window starts at the latest scheduled time (the first digest
    lists nothing older).
    """
    start = last_end
    if start is None:
        start = latest_fire(cron, now) or now - timedelta(days=1)
    return start, next_fire(cron, max(start, now - timedelta(microseconds=1)))
