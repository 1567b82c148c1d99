"""Which calendar day it is for someone: their IANA zone and the hour their day starts."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.core.errors import Unprocessable

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1024)
def zone_named(name: str) -> ZoneInfo:
    """The IANA zone `name`, or UTC for a stored name this machine's zone database does not
    know (reported once per name). The API and the database both check zones on the way in,
    but the two zone databases can differ (an older tzdata here), and a clock must not fail
    a read for it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.error("unknown time zone %r in stored data; its clock runs on UTC", name)
        return ZoneInfo("UTC")


def local_today(timezone: str, day_start_hour: int, now: datetime) -> date:
    """The local date `now` belongs to. A night owl with `day_start_hour=4` still counts
    01:30 as the previous day. Wall-clock arithmetic on the local time keeps DST changes from
    shifting the date."""
    # A tzinfo whose utcoffset() is None still makes a naive datetime (astimezone would read
    # it as the server's local time), so test the offset, not just the tzinfo.
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(zone_named(timezone))
    return (local.replace(tzinfo=None) - timedelta(hours=day_start_hour)).date()


@dataclass(frozen=True, slots=True)
class Clock:
    """Whose day it is: an IANA zone and the hour the day starts."""

    timezone: str
    day_start_hour: int

    def today(self, now: datetime) -> date:
        return local_today(self.timezone, self.day_start_hour, now)


MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30


def date_range(first: date | None, last: date | None, *, default_last: date) -> tuple[date, date]:
    """A `from`/`to` query range: by default the 30 days up to `default_last`, at most 366
    days, never reversed."""
    last = last or default_last
    first = first or last - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if first > last:
        raise Unprocessable("`from` must not be after `to`.", code="invalid_range")
    if (last - first).days >= MAX_RANGE_DAYS:
        raise Unprocessable(
            f"Ask for at most {MAX_RANGE_DAYS} days at a time.", code="range_too_long"
        )
    return first, last
