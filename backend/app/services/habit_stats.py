"""A habit's stats (streaks, score, completion rates) on the request's asyncpg connection
(`app.db.sql`): four statements after the transaction's setup, whatever the history
(five for a history longer than LONG_STATS_DAYS: the rate limit's count)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from app.domain import progress
from app.domain.actor import Actor
from app.repositories.checkins import fetch_entries
from app.repositories.habits import fetch_versions, timeline_of
from app.services.habit_context import require_habit
from app.services.rate_limits import LONG_STATS_DAYS, Bucket


async def habit_stats(
    sql: Any,
    actor: Actor,
    habit_id: uuid.UUID,
    *,
    now: datetime | None = None,
    long_stats_per_minute: int | None = None,
) -> dict[str, object]:
    habit = await require_habit(sql, actor, habit_id)
    today = habit.clock.today(now or datetime.now(UTC))
    if long_stats_per_minute is not None and (today - habit.start_date).days > LONG_STATS_DAYS:
        # Only a long history costs enough to be counted (one more statement).
        await Bucket("long_stats", long_stats_per_minute).take_on(sql)
    versions = (await fetch_versions(sql, [habit_id]))[habit_id]
    timeline = timeline_of(versions, habit.start_date)
    entries = (await fetch_entries(sql, [habit_id], habit.start_date))[habit_id]
    outcomes = progress.units(timeline, entries, today)
    return {
        "habit_id": habit_id,
        "as_of": today,
        "current_streak": progress.current_streak(outcomes),
        "best_streak": progress.best_streak(outcomes),
        # Nine places: Loop's own tests state its scores to six, so a score rounded to six
        # here could sit a rounding step (1e-6) away from theirs.
        "score": round(progress.score(timeline, entries, today), 9),
        "completion_rate": {
            f"days_{days}": progress.completion_rate(timeline, entries, today, days)
            for days in (7, 30, 90)
        },
    }
