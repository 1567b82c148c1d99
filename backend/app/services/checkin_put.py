"""PUT of one check-in, the write the app sends most: on the asyncpg connection directly
(`app.db.sql`), in a fixed three statements after the transaction's setup: the habit with
what deciding needs, its versions, and an upsert that returns the row whether or not it
changed. The rules are the ones batch writes use (`app.services.checkins`)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from app.domain.actor import Actor
from app.domain.clock import local_today
from app.schemas.habit import CheckinWrite
from app.services.checkins import check_value, check_writable
from app.services.habit_context import fetch_habit_facts, fetch_versions, timeline_of_records

# A write identical to the stored row changes nothing (no new updated_at, no sync change), so
# a replayed offline queue is free; the second branch then returns the row as it is. `xmax`
# is 0 only for a row this statement inserted.
_UPSERT = """
with written as (
    insert into checkins as c (habit_id, family_id, date, status, value, note, logged_by)
    values ($1, $2, $3, $4, $5, $6, $7)
    on conflict (habit_id, date) do update
        set status = excluded.status, value = excluded.value, note = excluded.note,
            logged_by = excluded.logged_by, updated_at = now()
        where (c.status, c.value, c.note)
            is distinct from (excluded.status, excluded.value, excluded.note)
    returning c.id, c.habit_id, c.date, c.status, c.value, c.note, c.logged_by,
              c.created_at, c.updated_at, c.xmax = 0 as created
)
select * from written
union all
select id, habit_id, date, status, value, note, logged_by, created_at, updated_at, false
from checkins
where habit_id = $1 and date = $3 and not exists (select from written)
"""

# An identical write racing another writer's insert of the same row, which committed after
# this statement's snapshot: the upsert waited for it and left it alone, and the snapshot
# does not show it yet. Read it again in a fresh one (read committed).
_CHECKIN = """
select id, habit_id, date, status, value, note, logged_by, created_at, updated_at,
       false as created
from checkins where habit_id = $1 and date = $2
"""


async def put_checkin(
    sql: Any,
    actor: Actor,
    habit_id: uuid.UUID,
    day: date,
    data: CheckinWrite,
    *,
    backfill_days: int,
    now: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """Create or replace the check-in; `(checkin, created)`. Concurrent writers converge on
    one row holding the last write."""
    habit = await fetch_habit_facts(sql, actor, habit_id)
    check_writable(
        may_manage=habit["may_manage"],
        archived=habit["archived"],
        start_date=habit["start_date"],
        today=local_today(habit["timezone"], habit["day_start_hour"], now or datetime.now(UTC)),
        day=day,
        backfill_days=backfill_days,
    )
    versions = (await fetch_versions(sql, [habit_id]))[habit_id]
    timeline = timeline_of_records(versions, habit["start_date"])
    check_value(timeline.rule_on(day), data)
    row = await sql.fetchrow(
        _UPSERT,
        habit_id,
        habit["family_id"],
        day,
        data.status.value,
        data.value,
        data.note,
        actor.user_id,
    )
    if row is None:
        row = await sql.fetchrow(_CHECKIN, habit_id, day)
    checkin = dict(row)
    return checkin, checkin.pop("created")
