"""Check-ins: every statement that reads or writes them, on the request transaction's
asyncpg connection (an ORM service gets its session's one from `app.db.session_driver`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from app.domain import progress
from app.models.enums import CheckinStatus
from app.repositories.records import TypedRecord, column


class CheckinRecord(TypedRecord):
    """A stored check-in; `created` on the rows an upsert returns (True for a new row)."""

    __slots__ = ()

    id: uuid.UUID = column("id")
    habit_id: uuid.UUID = column("habit_id")
    date: date = column("date")
    value: Decimal | None = column("value")
    note: str | None = column("note")
    logged_by: uuid.UUID | None = column("logged_by")
    created_at: datetime = column("created_at")
    updated_at: datetime = column("updated_at")
    created: bool = column("created")

    @property
    def status(self) -> CheckinStatus:
        return CheckinStatus(self["status"])


_COLUMNS = "id, habit_id, date, status, value, note, logged_by, created_at, updated_at"

# Each habit's check-ins as three arrays (dates, statuses, values): one row per habit instead
# of one per check-in, which both sides decode several times faster.
_ENTRIES_SQL = """
select habit_id, array_agg(date) as dates, array_agg(status::text) as statuses,
       array_agg(value) as checkin_values
from checkins
where habit_id = any($1::uuid[]) and date between $2 and $3
group by habit_id
"""


async def fetch_entries(
    sql: Any, habit_ids: list[uuid.UUID], first: date, last: date | None = None
) -> dict[uuid.UUID, dict[date, progress.EntryLike]]:
    """The habits' check-ins from `first` to `last` (or on), as the progress engine reads
    them: `(status, value)` by date."""
    entries: dict[uuid.UUID, dict[date, progress.EntryLike]] = {h: {} for h in habit_ids}
    if habit_ids:
        for habit_id, dates, statuses, values in await sql.fetch(
            _ENTRIES_SQL, habit_ids, first, last or date.max
        ):
            entries[habit_id] = dict(zip(dates, zip(statuses, values, strict=True), strict=True))
    return entries


_BETWEEN_SQL = (
    f"select {_COLUMNS}, false as created from checkins"
    " where habit_id = $1 and date between $2 and $3 order by date"
)


async def fetch_checkins(
    sql: Any, habit_id: uuid.UUID, first: date, last: date
) -> list[CheckinRecord]:
    """The habit's check-ins from `first` to `last`, by date."""
    rows: list[CheckinRecord] = await sql.fetch(
        _BETWEEN_SQL, habit_id, first, last, record_class=CheckinRecord
    )
    return rows


async def delete_checkin(sql: Any, habit_id: uuid.UUID, day: date) -> None:
    await sql.execute("delete from checkins where habit_id = $1 and date = $2", habit_id, day)


class CheckinWriteRow(NamedTuple):
    """One check-in to write (at most one per habit and date in a call)."""

    habit_id: uuid.UUID
    family_id: uuid.UUID
    date: date
    status: str
    value: Decimal | None
    note: str | None


# Insert or replace; a write identical to the stored row changes nothing (no new
# updated_at, no sync change), so a replayed offline queue is free. `xmax` is 0 only for a
# row this statement inserted.
_WRITE = """
    insert into checkins as c (habit_id, family_id, date, status, value, note, logged_by)
    {rows}
    on conflict (habit_id, date) do update
        set status = excluded.status, value = excluded.value, note = excluded.note,
            logged_by = excluded.logged_by, updated_at = now()
        where (c.status, c.value, c.note)
            is distinct from (excluded.status, excluded.value, excluded.note)
    returning c.id, c.habit_id, c.date, c.status, c.value, c.note, c.logged_by,
              c.created_at, c.updated_at, c.xmax = 0 as created
"""
# The rows left as they were come back from the second branch, as they are. One row (the
# PUT, the write the app sends most) has a shape of its own: through the array form it
# costs more per execution, on both sides.
_UPSERT_ONE_SQL = f"""
with written as ({_WRITE.format(rows="values ($1, $2, $3, $4, $5, $6, $7)")})
select * from written
union all
select {_COLUMNS}, false from checkins
where habit_id = $1 and date = $3 and not exists (select from written)
"""
_FROM_INPUT = (
    "select i.habit_id, i.family_id, i.date, i.status::checkin_status, i.value, i.note, $7"
    " from input i"
)
_UPSERT_MANY_SQL = f"""
with input as (
    select * from unnest($1::uuid[], $2::uuid[], $3::date[], $4::text[], $5::numeric[],
                         $6::text[]) as i(habit_id, family_id, date, status, value, note)
), written as ({_WRITE.format(rows=_FROM_INPUT)})
select * from written
union all
select c.id, c.habit_id, c.date, c.status, c.value, c.note, c.logged_by, c.created_at,
       c.updated_at, false
from checkins c join input i on c.habit_id = i.habit_id and c.date = i.date
where not exists (select from written w where w.habit_id = c.habit_id and w.date = c.date)
"""

# An identical write racing another writer's insert of the same row, which committed after
# the upsert's snapshot: the upsert waited for it and left it alone, and the snapshot does
# not show it yet. Read it again in a fresh one (read committed).
_REREAD_SQL = f"""
select {_COLUMNS}, false as created
from checkins c join unnest($1::uuid[], $2::date[]) as k(habit_id, date) using (habit_id, date)
"""


async def upsert_checkins(
    sql: Any, rows: Sequence[CheckinWriteRow], logged_by: uuid.UUID
) -> list[CheckinRecord]:
    """Create or replace the rows; each row's check-in as it is now, `created` for new
    ones. Concurrent writers converge on one row holding the last write."""
    if not rows:
        return []
    written: list[CheckinRecord]
    if len(rows) == 1:
        written = await sql.fetch(_UPSERT_ONE_SQL, *rows[0], logged_by, record_class=CheckinRecord)
    else:
        written = await sql.fetch(
            _UPSERT_MANY_SQL, *zip(*rows, strict=True), logged_by, record_class=CheckinRecord
        )
    if len(written) < len(rows):
        seen = {(row.habit_id, row.date) for row in written}
        missing = [row for row in rows if (row.habit_id, row.date) not in seen]
        written += await sql.fetch(
            _REREAD_SQL,
            [row.habit_id for row in missing],
            [row.date for row in missing],
            record_class=CheckinRecord,
        )
    return written
