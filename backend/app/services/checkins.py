"""Check-ins: one row per habit and local date, written idempotently (PUT) by the assignee
or by an admin on their behalf."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Result, delete, func, literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, Unprocessable
from app.models import Checkin
from app.models.enums import CheckinStatus, HabitType
from app.schemas.habit import CheckinWrite
from app.services.actor import Actor
from app.services.habit_context import HabitContext, load_habit, load_versions, timeline_of

MAX_RANGE_DAYS = 366


class HabitArchived(Conflict):
    code = "habit_archived"
    title = "Habit is archived"


class InvalidCheckinDate(Unprocessable):
    title = "Date not allowed"


class InvalidCheckinValue(Unprocessable):
    title = "Value does not fit the habit"


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

    async def put(self, habit_id: uuid.UUID, day: date, data: CheckinWrite) -> tuple[Checkin, bool]:
        """Create or replace the check-in; `(checkin, created)`. Concurrent writers converge
        on one row holding the last write."""
        context = await self._writable(habit_id, day)
        await self._check_value(context, day, data)
        values = {
            "status": data.status,
            "value": data.value,
            "note": data.note,
            "logged_by": self.actor.user_id,
        }
        upsert = (
            insert(Checkin)
            .values(habit_id=habit_id, family_id=context.habit.family_id, date=day, **values)
            .on_conflict_do_update(
                index_elements=[Checkin.habit_id, Checkin.date],
                set_={**values, "updated_at": func.now()},
            )
        )
        # xmax is 0 only for a row this statement inserted (not one it updated).
        result: Result[tuple[Checkin, bool]] = await self.session.execute(
            upsert.returning(Checkin, literal_column("xmax = 0").label("created")),
            execution_options={"populate_existing": True},
        )
        checkin, created = result.one()
        return checkin, bool(created)

    async def delete(self, habit_id: uuid.UUID, day: date) -> None:
        await self._writable(habit_id, day)
        await self.session.execute(
            delete(Checkin).where(Checkin.habit_id == habit_id, Checkin.date == day)
        )

    async def list(
        self, habit_id: uuid.UUID, first: date | None, last: date | None
    ) -> list[Checkin]:
        context = await load_habit(self.session, self.actor, habit_id)
        last = last or context.clock.today(self.now)
        first = first or last - timedelta(days=29)
        if first > last:
            raise Unprocessable("`from` must not be after `to`.", code="invalid_range")
        if (last - first).days >= MAX_RANGE_DAYS:
            raise Unprocessable(
                f"Ask for at most {MAX_RANGE_DAYS} days at a time.", code="range_too_long"
            )
        rows = await self.session.scalars(
            select(Checkin)
            .where(Checkin.habit_id == habit_id, Checkin.date.between(first, last))
            .order_by(Checkin.date)
        )
        return list(rows)

    async def _writable(self, habit_id: uuid.UUID, day: date) -> HabitContext:
        context = await load_habit(self.session, self.actor, habit_id)
        context.ensure_may_manage()
        if context.habit.archived_at is not None:
            raise HabitArchived("Unarchive the habit to log it again.")
        today = context.clock.today(self.now)
        if day > today:
            raise InvalidCheckinDate(
                f"{day} is in the future of the habit's local today ({today}).",
                code="date_in_future",
            )
        if day < context.habit.start_date:
            raise InvalidCheckinDate(
                f"The habit starts on {context.habit.start_date}.", code="before_start"
            )
        if day < today - timedelta(days=self.backfill_days):
            raise InvalidCheckinDate(
                f"Check-ins can be written for the last {self.backfill_days} days only.",
                code="outside_backfill_window",
            )
        return context

    async def _check_value(self, context: HabitContext, day: date, data: CheckinWrite) -> None:
        versions = (await load_versions(self.session, [context.habit.id]))[context.habit.id]
        rule = timeline_of(context.habit, versions).rule_on(day)
        assert rule is not None  # _writable refused days before the start
        if rule.type == HabitType.BOOLEAN and data.value is not None:
            raise InvalidCheckinValue(
                "This habit is done or not: send no value.", code="value_not_allowed"
            )
        if (
            rule.type == HabitType.NUMERIC
            and data.status == CheckinStatus.DONE
            and data.value is None
        ):
            raise InvalidCheckinValue(
                "This habit is measured: send the amount as value.", code="value_required"
            )
