"""Check-ins: one row per habit and local date, written idempotently (PUT) by the assignee
or by an admin on their behalf; also in batches, for clients coming back online."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, ProblemError, Unprocessable
from app.db.session_driver import driver_connection
from app.domain.actor import Actor
from app.domain.clock import date_range
from app.domain.progress import Rule
from app.models.enums import CheckinStatus, HabitType
from app.repositories import checkins as checkin_rows
from app.repositories.checkins import CheckinRecord, CheckinWriteRow
from app.repositories.habits import HabitRecord, fetch_habits, fetch_versions, timeline_of
from app.schemas.habit import BatchCheckinItem, CheckinWrite
from app.services.habit_context import ensure_may_manage, found, load_habit


class HabitArchived(Conflict):
    code = "habit_archived"
    title = "Habit is archived"


class InvalidCheckinDate(Unprocessable):
    title = "Date not allowed"


class InvalidCheckinValue(Unprocessable):
    title = "Value does not fit the habit"


@dataclass(frozen=True, slots=True)
class BatchResult:
    """One item's outcome: a check-in with 201/200, or a problem with its 4xx status."""

    status: int
    checkin: CheckinRecord | None = None
    problem: ProblemError | None = None


class CheckinService:
    def __init__(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        backfill_days: int,
        now: datetime | None = None,
    ) -> None:
        self.session = session
        self.actor = actor
        self.backfill_days = backfill_days
        self.now = now or datetime.now(UTC)

    async def put_many(self, raw_items: Sequence[Any]) -> list[BatchResult]:
        """Write many check-ins in one transaction with a fixed number of statements. Each
        item is judged on its own: a bad one gets its problem, the others are written. The
        same habit and date twice: the later item wins, both report the final check-in."""
        results: list[BatchResult | None] = [None] * len(raw_items)
        parsed: dict[int, BatchCheckinItem] = {}
        for index, raw in enumerate(raw_items):
            try:
                parsed[index] = BatchCheckinItem.model_validate(raw)
            except ValidationError as error:
                results[index] = BatchResult(422, problem=_validation_problem(error))
        sql = await driver_connection(self.session)
        habits = await fetch_habits(sql, self.actor, {item.habit_id for item in parsed.values()})
        versions = await fetch_versions(sql, list(habits))
        accepted: dict[tuple[uuid.UUID, date], int] = {}
        for index, item in parsed.items():
            try:
                habit = found(habits.get(item.habit_id))
                check_writable(habit, item.date, now=self.now, backfill_days=self.backfill_days)
                timeline = timeline_of(versions[item.habit_id], habit.start_date)
                check_value(timeline.rule_on(item.date), item)
            except ProblemError as problem:
                results[index] = BatchResult(problem.status, problem=problem)
                continue
            accepted[(item.habit_id, item.date)] = index  # a later duplicate replaces
        writes = [
            write_row(habits[parsed[index].habit_id], parsed[index].date, parsed[index])
            for index in accepted.values()
        ]
        written = {
            (checkin.habit_id, checkin.date): checkin
            for checkin in await checkin_rows.upsert_checkins(sql, writes, self.actor.user_id)
        }
        for index, item in parsed.items():
            if results[index] is None:
                checkin = written[(item.habit_id, item.date)]
                final_writer = accepted[(item.habit_id, item.date)] == index
                status = 201 if checkin.created and final_writer else 200
                results[index] = BatchResult(status, checkin)
        return [result for result in results if result is not None]

    async def delete(self, habit_id: uuid.UUID, day: date) -> None:
        habit = await load_habit(self.session, self.actor, habit_id)
        check_writable(habit, day, now=self.now, backfill_days=self.backfill_days)
        await checkin_rows.delete_checkin(await driver_connection(self.session), habit_id, day)

    async def list_between(
        self, habit_id: uuid.UUID, first: date | None, last: date | None
    ) -> list[CheckinRecord]:
        habit = await load_habit(self.session, self.actor, habit_id)
        first, last = date_range(first, last, default_last=habit.clock.today(self.now))
        sql = await driver_connection(self.session)
        return await checkin_rows.fetch_checkins(sql, habit_id, first, last)


def write_row(habit: HabitRecord, day: date, data: CheckinWrite) -> CheckinWriteRow:
    """What the repository writes for `data` on `day`."""
    return CheckinWriteRow(habit.id, habit.family_id, day, data.status.value, data.value, data.note)


def check_writable(habit: HabitRecord, day: date, *, now: datetime, backfill_days: int) -> None:
    """May the caller write a check-in of this habit for `day` (the habit's local today
    decided by `now`)? Raises the problem if not."""
    ensure_may_manage(habit)
    if habit.archived_at is not None:
        raise HabitArchived("Unarchive the habit to log it again.")
    today = habit.clock.today(now)
    start_date = habit.start_date
    if day > today:
        raise InvalidCheckinDate(
            f"{day} is in the future of the habit's local today ({today}).",
            code="date_in_future",
        )
    if day < start_date:
        raise InvalidCheckinDate(f"The habit starts on {start_date}.", code="before_start")
    if day < today - timedelta(days=backfill_days):
        raise InvalidCheckinDate(
            f"Check-ins can be written for the last {backfill_days} days only.",
            code="outside_backfill_window",
        )


def check_value(rule: Rule | None, data: CheckinWrite) -> None:
    """Does the value fit the habit's version in force that day?"""
    assert rule is not None  # check_writable refused days before the start
    if rule.type == HabitType.BOOLEAN and data.value is not None:
        raise InvalidCheckinValue(
            "This habit is done or not: send no value.", code="value_not_allowed"
        )
    if rule.type == HabitType.NUMERIC and data.status == CheckinStatus.DONE and data.value is None:
        raise InvalidCheckinValue(
            "This habit is measured: send the amount as value.", code="value_required"
        )


def _validation_problem(error: ValidationError) -> Unprocessable:
    issues = [
        {"loc": list(issue["loc"]), "msg": issue["msg"], "type": issue["type"]}
        for issue in error.errors()
    ]
    return Unprocessable("The item is not valid; see `errors`.", errors=issues)
