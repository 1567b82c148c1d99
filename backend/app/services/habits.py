"""Habits and their versions: create, read, change (a target or schedule change is a new
version from a date on), archive, soft-delete; stats and history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Unprocessable
from app.db.session_driver import driver_connection
from app.domain import progress
from app.domain.actor import Actor
from app.domain.clock import date_range
from app.models import Habit, HabitVersion
from app.repositories import habits as habit_rows
from app.repositories import versioned_rows
from app.repositories.checkins import fetch_entries
from app.repositories.habits import HabitRecord, VersionRecord, timeline_of
from app.schemas.habit import HabitCreate, HabitUpdate, Measure
from app.services.families import IdConflict, VersionMismatch
from app.services.habit_context import (
    clock_of,
    ensure_may_manage,
    in_force,
    load_assignee,
    load_habit,
    load_versions,
)
from app.services.quotas import Quotas
from app.services.scope import InsufficientRole, may_manage, require_membership


class InvalidHabitChange(Unprocessable):
    code = "invalid_habit_change"
    title = "Invalid habit change"


@dataclass(frozen=True, slots=True)
class HabitView:
    """A habit as the API shows it: its row (an entity after a write, a record after a
    read) and its version in force."""

    habit: Habit | HabitRecord
    version: HabitVersion | VersionRecord

    def as_dict(self) -> dict[str, object]:
        habit, version = self.habit, self.version
        return {
            "id": habit.id,
            "family_id": habit.family_id,
            "assignee_id": habit.assignee_id,
            "name": habit.name,
            "description": habit.description,
            "color": habit.color,
            "icon": habit.icon,
            "sort_order": habit.sort_order,
            "start_date": habit.start_date,
            "archived": habit.archived_at is not None,
            "version": habit.version,
            "type": version.type,
            "target_value": version.target_value,
            "unit": version.unit,
            "target_direction": version.target_direction,
            "schedule": version.schedule,
            "current_version": version.number,
            "created_at": habit.created_at,
            "updated_at": habit.updated_at,
        }


def _schedule_json(data: Measure | HabitCreate | HabitUpdate) -> dict[str, object]:
    schedule = getattr(data, "schedule", None)
    assert schedule is not None
    return dict(schedule.model_dump())


class HabitService:
    def __init__(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        now: datetime | None = None,
        quotas: Quotas | None = None,
    ) -> None:
        self.session = session
        self.actor = actor
        self.now = now or datetime.now(UTC)
        self.quotas = quotas

    async def create(self, family_id: uuid.UUID, data: HabitCreate) -> tuple[HabitView, bool]:
        mine = await require_membership(self.session, self.actor, family_id)
        if data.id is not None:
            existing = await self._existing(data.id)
            if existing is not None:
                view, first = existing
                if not self._same_create(view.habit, first, family_id, data):
                    raise IdConflict("A habit with this id exists with different content.")
                return view, False
        assignee, clock = await load_assignee(self.session, family_id, data.assignee_id)
        if not may_manage(mine.role, mine.id, assignee.id):
            raise InsufficientRole("Members create habits for themselves; admins for anyone.")
        if self.quotas is not None:
            await self.quotas.ensure_another_habit(self.session, family_id)
        start = data.start_date or clock.today(self.now)
        habit = Habit(
            id=data.id or uuid.uuid4(),
            family_id=family_id,
            assignee_id=assignee.id,
            name=data.name,
            description=data.description,
            color=data.color,
            icon=data.icon,
            sort_order=data.sort_order,
            start_date=start,
            created_by=self.actor.user_id,
        )
        version = HabitVersion(
            habit_id=habit.id,
            family_id=family_id,
            number=1,
            effective_from=start,
            type=data.type,
            target_value=data.target_value,
            unit=data.unit,
            target_direction=data.target_direction,
            schedule=_schedule_json(data),
        )
        if not await habit_rows.insert_habit(self.session, habit, version):
            raise IdConflict("This id is already used by another resource.")
        return HabitView(habit, version), True

    async def list_in_family(
        self,
        family_id: uuid.UUID,
        *,
        assignee_id: uuid.UUID | None,
        archived: bool | None,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[HabitView], str | None]:
        await require_membership(self.session, self.actor, family_id)
        rows, next_cursor = await habit_rows.family_habits(
            self.session,
            family_id,
            assignee_id=assignee_id,
            archived=archived,
            cursor=cursor,
            limit=limit,
        )
        versions = await load_versions(self.session, [row[0].id for row in rows])
        return [
            HabitView(
                habit,
                in_force(versions[habit.id], clock_of(member, family, profile).today(self.now)),
            )
            for habit, member, family, profile in rows
        ], next_cursor

    async def get(self, habit_id: uuid.UUID) -> HabitView:
        habit = await load_habit(self.session, self.actor, habit_id)
        versions = await load_versions(self.session, [habit_id])
        return HabitView(habit, in_force(versions[habit_id], habit.clock.today(self.now)))

    async def versions(self, habit_id: uuid.UUID) -> list[VersionRecord]:
        await load_habit(self.session, self.actor, habit_id)
        return (await load_versions(self.session, [habit_id]))[habit_id]

    async def update(
        self, habit_id: uuid.UUID, changes: HabitUpdate, *, if_match: int | None
    ) -> HabitView:
        habit = await load_habit(self.session, self.actor, habit_id)
        ensure_may_manage(habit)
        expected = if_match if if_match is not None else changes.version
        if expected is not None and expected != habit.version:
            raise VersionMismatch(
                "The habit changed since you read it; fetch it again and retry.",
                expected_version=expected,
                current_version=habit.version,
            )
        versions = (await load_versions(self.session, [habit_id]))[habit_id]
        today = habit.clock.today(self.now)
        current: HabitVersion | VersionRecord = in_force(versions, today)
        values: dict[str, object] = {}
        for name in ("description", "color", "icon"):  # optional: null clears them
            if name in changes.model_fields_set:
                values[name] = getattr(changes, name)
        for name in ("name", "sort_order"):  # required: null leaves them as they are
            if getattr(changes, name) is not None:
                values[name] = getattr(changes, name)
        if changes.archived is not None:
            values["archived_at"] = func.now() if changes.archived else None
        if changes.changes_measure:
            new_version = await self._new_version(habit, versions, changes)
            every: list[HabitVersion | VersionRecord] = [*versions, new_version]
            current = in_force(every, today)
        if values or changes.changes_measure:
            updated = await versioned_rows.update_at_version(
                self.session, Habit, habit_id, values, read_version=habit.version
            )
            if updated is None:
                raise VersionMismatch("The habit changed while you edited it; retry.")
            return HabitView(updated, current)
        return HabitView(habit, current)

    async def delete(self, habit_id: uuid.UUID) -> None:
        ensure_may_manage(await load_habit(self.session, self.actor, habit_id))
        await versioned_rows.soft_delete(self.session, Habit, habit_id)

    async def history(
        self, habit_id: uuid.UUID, first: date | None, last: date | None
    ) -> list[dict[str, object]]:
        habit = await load_habit(self.session, self.actor, habit_id)
        today = habit.clock.today(self.now)
        first, last = date_range(first, min(last or today, today), default_last=today)
        sql = await driver_connection(self.session)
        versions = (await habit_rows.fetch_versions(sql, [habit_id]))[habit_id]
        timeline = timeline_of(versions, habit.start_date)
        entries = (await fetch_entries(sql, [habit_id], first, last))[habit_id]
        return [
            {
                "date": day,
                "status": status.value,
                "value": entry[progress.VALUE] if entry is not None else None,
                "final": day < today,
            }
            for day, status, entry in progress.history(timeline, entries, first, last)
        ]

    async def _new_version(
        self,
        habit: HabitRecord,
        versions: list[VersionRecord],
        changes: HabitUpdate,
    ) -> HabitVersion:
        """A version from `changes.effective_from` (default today) on, made of the version in
        force on that date with the changes applied."""
        effective = changes.effective_from or habit.clock.today(self.now)
        effective = max(effective, habit.start_date)
        current = in_force(versions, effective)
        merged = {
            "type": current.type,
            "target_value": current.target_value,
            "unit": current.unit,
            "target_direction": current.target_direction,
        }
        for name in ("type", "target_value", "unit", "target_direction"):
            if name in changes.model_fields_set:
                merged[name] = getattr(changes, name)
        if changes.type is not None and changes.type.value == "boolean":
            merged.update(target_value=None, target_direction=None)
        try:
            measure = Measure.model_validate(merged)
            measure.check_measure()
        except ValueError as error:
            raise InvalidHabitChange(str(error)) from None
        if self.quotas is not None:
            self.quotas.ensure_another_version(len(versions))
        version = HabitVersion(
            habit_id=habit.id,
            family_id=habit.family_id,
            number=max(v.number for v in versions) + 1,
            effective_from=effective,
            type=measure.type,
            target_value=measure.target_value,
            unit=measure.unit,
            target_direction=measure.target_direction,
            schedule=_schedule_json(changes) if changes.schedule else current.schedule,
        )
        return await habit_rows.add_version(self.session, version)

    async def _existing(self, habit_id: uuid.UUID) -> tuple[HabitView, VersionRecord] | None:
        """The habit as it is now, and its first version (what its create said)."""
        habit = await habit_rows.find_any_habit(self.session, habit_id)
        if habit is None:
            return None
        versions = (await load_versions(self.session, [habit_id]))[habit_id]
        _, clock = await load_assignee(self.session, habit.family_id, habit.assignee_id)
        return HabitView(habit, in_force(versions, clock.today(self.now))), versions[0]

    @staticmethod
    def _same_create(
        habit: Habit | HabitRecord,
        first: VersionRecord,
        family_id: uuid.UUID,
        data: HabitCreate,
    ) -> bool:
        return (
            habit.family_id == family_id
            and habit.assignee_id == data.assignee_id
            and habit.name == data.name
            and habit.description == data.description
            and habit.color == data.color
            and habit.icon == data.icon
            and habit.sort_order == data.sort_order
            and (data.start_date is None or habit.start_date == data.start_date)
            and first.type == data.type
            and first.target_value == data.target_value
            and first.unit == data.unit
            and first.target_direction == data.target_direction
            and first.schedule == _schedule_json(data)
        )
