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
other).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

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


# The live habits of a person (every family) or of a family's managed profiles, due on each
# date by the version in force then, skipped where nothing is checked in yet. RLS applies:
# nothing outside the caller's families is written.
_SKIP_DUE_HABITS = text("""
insert into checkins (habit_id, family_id, date, status, note, logged_by)
select h.id, h.family_id, d.day, 'skipped', :note, cast(:logged_by as uuid)
from habits h
join family_members m on m.id = h.assignee_id
 and (m.user_id = cast(:user_id as uuid)
      or (m.family_id = cast(:family_id as uuid) and m.user_id is null))
cross join unnest(cast(:dates as date[])) as d(day)
join lateral (
    select v.schedule from habit_versions v
    where v.habit_id = h.id
    order by v.effective_from <= d.day desc,
             case when v.effective_from <= d.day then v.effective_from end desc,
             v.effective_from, v.number desc
    limit 1
) v on true
where h.deleted_at is null and h.archived_at is null and h.start_date <= d.day
  and (v.schedule ->> 'kind' = 'daily'
       or (v.schedule ->> 'kind' = 'weekdays'
           and v.schedule -> 'weekdays' @> to_jsonb(cast(extract(isodow from d.day) as int))))
on conflict (habit_id, date) do nothing
""")


async def skip_jumped_dates(session: AsyncSession, user_id: uuid.UUID, dates: list[date]) -> None:
    """After a person's own timezone change: their habits in every family."""
    if dates:
        await session.execute(
            _SKIP_DUE_HABITS,
            {
                "note": TRAVEL_NOTE,
                "user_id": user_id,
                "family_id": None,
                "logged_by": user_id,
                "dates": dates,
            },
        )


async def skip_jumped_dates_of_managed_profiles(
    session: AsyncSession, family_id: uuid.UUID, logged_by: uuid.UUID, dates: list[date]
) -> None:
    """After a family's timezone change: the habits of its managed profiles (children
    without a login live by the family's clock)."""
    if dates:
        await session.execute(
            _SKIP_DUE_HABITS,
            {
                "note": TRAVEL_NOTE,
                "user_id": None,
                "family_id": family_id,
                "logged_by": logged_by,
                "dates": dates,
            },
        )
