"""PUT of one check-in, the write the app sends most: on the request's asyncpg connection
(`app.db.sql`), in a fixed three statements after the transaction's setup: the habit with
what deciding needs, its versions, and the upsert. The rules and statements are the ones
batch writes use (`app.services.checkins`, `app.repositories.checkins`)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from app.domain.actor import Actor
from app.repositories.checkins import upsert_checkins
from app.repositories.habits import fetch_versions, timeline_of
from app.schemas.habit import CheckinWrite
from app.services.checkins import check_value, check_writable, write_row
from app.services.habit_context import require_habit


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
    habit = await require_habit(sql, actor, habit_id)
    check_writable(habit, day, now=now or datetime.now(UTC), backfill_days=backfill_days)
    versions = (await fetch_versions(sql, [habit_id]))[habit_id]
    check_value(timeline_of(versions, habit.start_date).rule_on(day), data)
    (written,) = await upsert_checkins(sql, [write_row(habit, day, data)], actor.user_id)
    checkin = dict(written)
    return checkin, checkin.pop("created")
