"""Which calendar day it is for someone: their IANA zone and the hour their day starts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


def local_today(timezone: str, day_start_hour: int, now: datetime) -> date:
    """The local date `now` belongs to. A night owl with `day_start_hour=4` still counts
    01:30 as the previous day. Wall-clock arithmetic on the local time keeps DST changes from
    shifting the date."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(ZoneInfo(timezone))
    return (local.replace(tzinfo=None) - timedelta(hours=day_start_hour)).date()
