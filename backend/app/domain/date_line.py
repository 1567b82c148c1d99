"""The local dates a trip east across the date line takes from someone, and the skips that
keep those dates from breaking their streaks.

A flight from Honolulu on Monday night lands in Auckland on Wednesday morning: Tuesday was
the traveller's date only for the hours spent asleep in the air, and a daily streak should
not die of it. When a profile's timezone changes so that its UTC offset grows by more than
12 hours (nothing but crossing the date line eastwards does that) and its local date moves
forward, the dates from the old today up to the new one are marked skipped for the person's
day-based habits (daily, and weekdays on a due day) unless already checked in. A family's
timezone change does the same for its managed profiles, who live by the family's clock. A
skip keeps a streak alive without extending it and leaves the score as it was; the check-ins
are ordinary ones (synced, visible in the history, noted as travel, removable like any
other). The skips are written by `app.repositories.date_line`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.domain.clock import local_today

DATE_LINE_HOURS = 12  # an offset growing by more than this crossed the date line
TRAVEL_NOTE = "Crossed the date line: this local date was skipped."


def jumped_dates(old: tuple[str, int], new: tuple[str, int], now: datetime) -> list[date]:
    """The dates a change of (timezone, day_start_hour) at `now` jumps over, oldest first."""
    old_zone, new_zone = ZoneInfo(old[0]), ZoneInfo(new[0])
    old_offset = now.astimezone(old_zone).utcoffset()
    new_offset = now.astimezone(new_zone).utcoffset()
    assert old_offset is not None
    assert new_offset is not None
    if new_offset - old_offset <= timedelta(hours=DATE_LINE_HOURS):
        return []
    old_today = local_today(old[0], old[1], now)
    new_today = local_today(new[0], new[1], now)
    return [old_today + timedelta(days=n) for n in range((new_today - old_today).days)]
