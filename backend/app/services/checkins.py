"""Check-ins: one row per habit and local date, written idempotently (PUT) by the assignee
or by an admin on their behalf; also in batches, for clients coming back online."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Result, delete, func, literal_column, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, ProblemError, Unprocessable
from app.domain.actor import Actor
from app.domain.clock import date_range
from app.domain.progress import Rule
from app.models import Checkin
from app.models.enums import CheckinStatus, HabitType
from app.schemas.habit import BatchCheckinItem, CheckinWrite
from app.services.habit_context import (
    HabitContext,
    HabitNotFound,
    NotYourHabit,
    load_habit,
    load_habits,
    load_versions,
    timeline_of,
)


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
    checkin: Checkin | None = None
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
        habit_ids = list({item.habit_id for item in parsed.values()})
        contexts = await load_habits(self.session, self.actor, habit_ids)
        versions = await load_versions(self.session, list(contexts))
        accepted: dict[tuple[uuid.UUID, date], int] = {}
        for index, item in parsed.items():
            try:
                context = contexts.get(item.habit_id)
                if context is None:
                    raise HabitNotFound("No habit with this id is visible to you.")
                self._check_writable(context, item.date)
                timeline = timeline_of(context.habit, versions[item.habit_id])
                self._check_value(timeline.rule_on(item.date), item)
            except ProblemError as problem:
                results[index] = BatchResult(problem.status, problem=problem)
                continue
            accepted[(item.habit_id, item.date)] = index  # a later duplicate replaces
        writes = [
            (contexts[parsed[index].habit_id], parsed[index].date, parsed[index])
            for index in accepted.values()
        ]
        written = {
            (checkin.habit_id, checkin.date): (checkin, created)
            for checkin, created in await self._upsert(writes)
        }
        for index, item in parsed.items():
            if results[index] is None:
                checkin, created = written[(item.habit_id, item.date)]
                final_writer = accepted[(item.habit_id, item.date)] == index
                results[index] = BatchResult(201 if created and final_writer else 200, checkin)
        return [result for result in results if result is not None]

    async def delete(self, habit_id: uuid.UUID, day: date) -> None:
        context = await load_habit(self.session, self.actor, habit_id)
        self._check_writable(context, day)
        await self.session.execute(
            delete(Checkin).where(Checkin.habit_id == habit_id, Checkin.date == day)
        )

    async def list_between(
        self, habit_id: uuid.UUID, first: date | None, last: date | None
    ) -> list[Checkin]:
        context = await load_habit(self.session, self.actor, habit_id)
        first, last = date_range(first, last, default_last=context.clock.today(self.now))
        rows = await self.session.scalars(
            select(Checkin)
            .where(Checkin.habit_id == habit_id, Checkin.date.between(first, last))
            .order_by(Checkin.date)
        )
        return list(rows)

    async def _upsert(
        self, writes: Sequence[tuple[HabitContext, date, CheckinWrite]]
    ) -> list[tuple[Checkin, bool]]:
        """Insert or replace the rows in one statement; `(checkin, created)` per row. A write
        identical to the stored row changes nothing (no new `updated_at`, no sync change), so
        replaying a queue of offline writes is free."""
        if not writes:
            return []
        rows = [
            {
                "habit_id": context.habit.id,
                "family_id": context.habit.family_id,
                "date": day,
                "status": data.status,
                "value": data.value,
                "note": data.note,
                "logged_by": self.actor.user_id,
            }
            for context, day, data in writes
        ]
        statement = insert(Checkin).values(rows)
        excluded = statement.excluded
        upsert = statement.on_conflict_do_update(
            index_elements=[Checkin.habit_id, Checkin.date],
            set_={
                "status": excluded.status,
                "value": excluded.value,
                "note": excluded.note,
                "logged_by": excluded.logged_by,
                "updated_at": func.now(),
            },
            where=tuple_(Checkin.status, Checkin.value, Checkin.note).is_distinct_from(
                tuple_(excluded.status, excluded.value, excluded.note)
            ),
        )
        # xmax is 0 only for a row this statement inserted (not one it updated).
        result: Result[tuple[Checkin, bool]] = await self.session.execute(
            upsert.returning(Checkin, literal_column("xmax = 0").label("created")),
            execution_options={"populate_existing": True},
        )
        written = [(checkin, bool(created)) for checkin, created in result.tuples()]
        unchanged = {(row["habit_id"], row["date"]) for row in rows} - {
            (checkin.habit_id, checkin.date) for checkin, _ in written
        }
        if unchanged:
            existing = await self.session.scalars(
                select(Checkin).where(tuple_(Checkin.habit_id, Checkin.date).in_(sorted(unchanged)))
            )
            written += [(checkin, False) for checkin in existing]
        return written

    def _check_writable(self, context: HabitContext, day: date) -> None:
        check_writable(
            may_manage=context.may_manage,
            archived=context.habit.archived_at is not None,
            start_date=context.habit.start_date,
            today=context.clock.today(self.now),
            day=day,
            backfill_days=self.backfill_days,
        )

    @staticmethod
    def _check_value(rule: Rule | None, data: CheckinWrite) -> None:
        check_value(rule, data)


def check_writable(
    *,
    may_manage: bool,
    archived: bool,
    start_date: date,
    today: date,
    day: date,
    backfill_days: int,
) -> None:
    """May the caller write a check-in of this habit for `day`? Raises the problem if not."""
    if not may_manage:
        raise NotYourHabit("Only the habit's assignee or a family admin can change this.")
    if archived:
        raise HabitArchived("Unarchive the habit to log it again.")
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
