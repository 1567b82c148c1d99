"""Which calendar day it is for someone: their IANA zone and the hour their day starts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


def local_today(timezone: str, day_start_hour: int, now: datetime) -> date:
    """The local date `now` belongs to. A night owl with `day_start_hour=4` still counts
    01:30 as the previous day. Wall-clock arithmetic on the local time keeps DST changes from
    shifting the date."""
    # A tzinfo whose utcoffset() is None still makes a naive datetime (astimezone would read
    # it as the server's local time), so test the offset, not just the tzinfo.
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(ZoneInfo(timezone))
    return (local.replace(tzinfo=None) - timedelta(hours=day_start_hour)).date()
