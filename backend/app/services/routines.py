"""Routines: an ordered list of one member's habits. Every change of items or schedule is a
new immutable version; progress on a date uses the version in force that day. The rules
live here; the statements in `app.repositories.routines`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound, Unprocessable
from app.domain.actor import Actor
from app.domain.clock import Clock
from app.models import FamilyMember, Routine, RoutineVersion
from app.repositories import routines as routines_repo
from app.repositories import versioned_rows
from app.schemas.routine import RoutineCreate, RoutineUpdate
from app.services.families import IdConflict, VersionMismatch
from app.services.habit_context import NotYourHabit, clock_of, load_assignee
from app.services.scope import InsufficientRole, may_manage, require_membership


class RoutineNotFound(NotFound):
    code = "routine_not_found"
    title = "Routine not found"


class RoutineVersionNotFound(NotFound):
    code = "routine_version_not_found"
    title = "Routine version not found"


class InvalidRoutineItems(Unprocessable):
    code = "invalid_routine_items"
    title = "Habits not usable in this routine"


@dataclass(frozen=True, slots=True)
class RoutineView:
    routine: Routine
    version: RoutineVersion

    def as_dict(self) -> dict[str, object]:
        routine = self.routine
        return {
            "id": routine.id,
            "family_id": routine.family_id,
            "assignee_id": routine.assignee_id,
            "name": routine.name,
            "time_of_day": routine.time_of_day,
            "version": routine.version,
            "current_version": version_dict(self.version),
            "created_at": routine.created_at,
            "updated_at": routine.updated_at,
        }


def version_dict(version: RoutineVersion) -> dict[str, object]:
    return {
        "number": version.number,
        "effective_from": version.effective_from,
        "schedule": version.schedule,
        "items": [
            {"position": position, "habit_id": habit_id}
            for position, habit_id in enumerate(version.habit_ids, start=1)
        ],
        "created_at": version.created_at,
    }


class RoutineService:
    def __init__(self, session: AsyncSession, actor: Actor, *, now: datetime | None = None) -> None:
        self.session = session
        self.actor = actor
        self.now = now or datetime.now(UTC)

    async def create(self, family_id: uuid.UUID, data: RoutineCreate) -> tuple[RoutineView, bool]:
        mine = await require_membership(self.session, self.actor, family_id)
        if data.id is not None:
            existing = await self._existing(data.id)
            if existing is not None:
                same = (
                    existing.routine.family_id == family_id
                    and existing.routine.assignee_id == data.assignee_id
                    and existing.routine.name == data.name
                    and existing.routine.time_of_day == data.time_of_day
                    and list(existing.version.habit_ids) == data.habit_ids
                    and existing.version.schedule
                    == (data.schedule.model_dump() if data.schedule else None)
                )
                if not same:
                    raise IdConflict("A routine with this id exists with different content.")
                return existing, False
        _, clock = await load_assignee(self.session, family_id, data.assignee_id)
        if not may_manage(mine.role, mine.id, data.assignee_id):
            raise InsufficientRole("Members create routines for themselves; admins for anyone.")
        await self._check_items(family_id, data.assignee_id, data.habit_ids)
        routine = Routine(
            id=data.id or uuid.uuid4(),
            family_id=family_id,
            assignee_id=data.assignee_id,
            name=data.name,
            time_of_day=data.time_of_day,
            created_by=self.actor.user_id,
        )
        version = RoutineVersion(
            routine_id=routine.id,
            family_id=family_id,
            number=1,
            effective_from=clock.today(self.now),
            habit_ids=data.habit_ids,
            schedule=data.schedule.model_dump() if data.schedule else None,
        )
        if not await routines_repo.insert_routine(self.session, routine, version):
            raise IdConflict("This id is already used by another resource.")
        return RoutineView(routine, version), True

    async def list_in_family(
        self, family_id: uuid.UUID, *, cursor: str | None, limit: int
    ) -> tuple[list[RoutineView], str | None]:
        await require_membership(self.session, self.actor, family_id)
        routines, next_cursor = await routines_repo.list_live(
            self.session, family_id, cursor=cursor, limit=limit
        )
        current = await routines_repo.current_versions(self.session, routines)
        return [RoutineView(r, current[r.id]) for r in routines], next_cursor

    async def get(self, routine_id: uuid.UUID) -> RoutineView:
        routine, _, _ = await self._load(routine_id)
        current = await routines_repo.current_versions(self.session, [routine])
        return RoutineView(routine, current[routine.id])

    async def versions(self, routine_id: uuid.UUID) -> list[RoutineVersion]:
        await self._load(routine_id)
        return await routines_repo.versions_of(self.session, routine_id)

    async def version(self, routine_id: uuid.UUID, number: int) -> RoutineVersion:
        await self._load(routine_id)
        version = await routines_repo.find_version(self.session, routine_id, number)
        if version is None:
            raise RoutineVersionNotFound(f"The routine has no version {number}.")
        return version

    async def update(
        self, routine_id: uuid.UUID, changes: RoutineUpdate, *, if_match: int | None
    ) -> RoutineView:
        routine, mine, clock = await self._load(routine_id)
        self._ensure_may_manage(routine, mine)
        expected = if_match if if_match is not None else changes.version
        if expected is not None and expected != routine.version:
            raise VersionMismatch(
                "The routine changed since you read it; fetch it again and retry.",
                expected_version=expected,
                current_version=routine.version,
            )
        current = (await routines_repo.current_versions(self.session, [routine]))[routine.id]
        values: dict[str, object] = {}
        if changes.name is not None:
            values["name"] = changes.name
        if "time_of_day" in changes.model_fields_set:
            values["time_of_day"] = changes.time_of_day
        if changes.changes_items:
            habit_ids = changes.habit_ids or list(current.habit_ids)
            await self._check_items(routine.family_id, routine.assignee_id, habit_ids)
            last_number = await routines_repo.last_version_number(self.session, routine.id)
            schedule = (
                (changes.schedule.model_dump() if changes.schedule else None)
                if "schedule" in changes.model_fields_set
                else current.schedule
            )
            current = RoutineVersion(
                routine_id=routine.id,
                family_id=routine.family_id,
                number=last_number + 1,
                effective_from=changes.effective_from or clock.today(self.now),
                habit_ids=habit_ids,
                schedule=schedule,
            )
            await routines_repo.insert_version(self.session, current)
            values["current_version"] = current.number
        if values:
            updated = await versioned_rows.update_at_version(
                self.session, Routine, routine.id, values, read_version=routine.version
            )
            if updated is None:
                raise VersionMismatch("The routine changed while you edited it; retry.")
            routine = updated
        return RoutineView(routine, current)

    async def delete(self, routine_id: uuid.UUID) -> None:
        routine, mine, _ = await self._load(routine_id)
        self._ensure_may_manage(routine, mine)
        await versioned_rows.soft_delete(self.session, Routine, routine_id)

    async def _load(self, routine_id: uuid.UUID) -> tuple[Routine, FamilyMember, Clock]:
        found = await routines_repo.find_visible(self.session, self.actor, routine_id)
        if found is None:
            raise RoutineNotFound("No routine with this id is visible to you.")
        clock = clock_of(found.assignee, found.family, found.profile)
        return found.routine, found.mine, clock

    @staticmethod
    def _ensure_may_manage(routine: Routine, mine: FamilyMember) -> None:
        if not may_manage(mine.role, mine.id, routine.assignee_id):
            raise NotYourHabit("Only the routine's assignee or a family admin can change this.")

    async def _check_items(
        self, family_id: uuid.UUID, assignee_id: uuid.UUID, habit_ids: list[uuid.UUID]
    ) -> None:
        found = await routines_repo.usable_habit_ids(
            self.session, family_id, assignee_id, habit_ids
        )
        missing = [str(habit_id) for habit_id in habit_ids if habit_id not in found]
        if missing:
            raise InvalidRoutineItems(
                "Every habit of a routine belongs to the same family and assignee.",
                habit_ids=missing,
            )

    async def _existing(self, routine_id: uuid.UUID) -> RoutineView | None:
        routine = await routines_repo.find_routine(self.session, routine_id)
        if routine is None:
            return None
        current = await routines_repo.current_versions(self.session, [routine])
        return RoutineView(routine, current[routine.id])
