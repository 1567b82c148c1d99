"""The skipped check-ins for the dates a clock change jumps over (the rule, and which dates,
are `app.domain.date_line`'s): one statement for a person's habits in every family, or for a
family's managed profiles."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.date_line import TRAVEL_NOTE

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
