"""Delta sync for offline-first clients: every change visible to the caller since a cursor.

Why the cursor follows transaction ids. Triggers log each change with the writing
transaction's id (`txid`). A transaction that started early can commit after later ones, so
"changes after the last one I saw" by insert order would skip it. Instead each read first
takes the horizon `xmin` of a fresh snapshot (every transaction with a smaller id has ended)
and only delivers changes of transactions below it, ordered by (txid, seq). The cursor
remembers the horizon and the last delivered (txid, seq); nothing below the horizon can
appear later, and nothing at or above it has been delivered yet. A change waits at most as
long as the oldest open transaction lasts.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, literal, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Unprocessable
from app.models import (
    Checkin,
    Family,
    FamilyMember,
    Habit,
    HabitVersion,
    Routine,
    RoutineVersion,
    SyncChange,
)
from app.schemas.family import FamilyRead, MemberRead
from app.schemas.habit import CheckinRead, HabitRead, HabitVersionRead
from app.schemas.routine import RoutineRead, RoutineVersionRead
from app.services.actor import Actor
from app.services.families import FamilyView
from app.services.habit_context import clock_of, in_force, load_versions, with_assignee_clock
from app.services.habits import HabitView
from app.services.routines import RoutineView, version_dict
from app.services.scope import families_of, memberships_of

DEFAULT_LIMIT = 200
MAX_LIMIT = 1000
# The order a client applies changes in: parents before children.
TYPE_ORDER = ("family", "member", "habit", "habit_version", "routine", "routine_version", "checkin")


@dataclass(frozen=True, slots=True)
class Cursor:
    horizon: int = 0  # every change of a transaction below this id was delivered
    after_txid: int = 0
    after_seq: int = 0

    def encode(self) -> str:
        raw = json.dumps([self.horizon, self.after_txid, self.after_seq]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str | None) -> Cursor:
        if not value:
            return cls()
        try:
            horizon, txid, seq = json.loads(
                base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            )
            return cls(int(horizon), int(txid), int(seq))
        except (ValueError, TypeError) as error:
            raise Unprocessable(
                "The cursor is not one this API issued.", code="invalid_cursor"
            ) from error


class SyncService:
    def __init__(self, session: AsyncSession, actor: Actor) -> None:
        self.session = session
        self.actor = actor

    async def changes(self, cursor_text: str | None, limit: int) -> dict[str, Any]:
        cursor = Cursor.decode(cursor_text)
        horizon = int(
            await self.session.scalar(
                text("select pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            )
        )
        my_families = select(memberships_of(self.actor).subquery().c.family_id)
        rows = (
            await self.session.scalars(
                select(SyncChange)
                .where(
                    SyncChange.txid >= cursor.horizon,
                    SyncChange.txid < horizon,
                    tuple_(SyncChange.txid, SyncChange.seq)
                    > tuple_(literal(cursor.after_txid), literal(cursor.after_seq)),
                    (SyncChange.user_id.is_(None) & SyncChange.family_id.in_(my_families))
                    | (SyncChange.user_id == self.actor.user_id),
                )
                .order_by(SyncChange.txid, SyncChange.seq)
                .limit(limit + 1)
            )
        ).all()
        has_more = len(rows) > limit
        rows = rows[:limit]
        if has_more:
            last = rows[-1]
            next_cursor = Cursor(cursor.horizon, last.txid, last.seq)
        else:
            next_cursor = Cursor(max(cursor.horizon, horizon))
        changes = await self._materialise(rows)
        return {"changes": changes, "next_cursor": next_cursor.encode(), "has_more": has_more}

    async def _materialise(self, rows: Iterable[SyncChange]) -> list[dict[str, Any]]:
        """Latest state of each changed entity (each at most once); a family the caller
        joined comes with everything in it, one they lost as a tombstone."""
        latest_change: dict[tuple[str, uuid.UUID], SyncChange] = {}
        joined: set[uuid.UUID] = set()
        for row in rows:
            latest_change[(row.entity_type, row.entity_id)] = row
            if row.user_id is not None and not row.deleted:
                joined.add(row.family_id)
        wanted: dict[str, set[uuid.UUID]] = {kind: set() for kind in TYPE_ORDER}
        for kind, entity_id in latest_change:
            wanted[kind].add(entity_id)
        if joined:
            for kind, ids in (await self._everything_in(joined)).items():
                wanted[kind] |= ids
        found = await self._load(wanted)
        changes = []
        for kind in TYPE_ORDER:
            for entity_id in sorted(wanted[kind]):
                data = found[kind].get(entity_id)
                changes.append(
                    {"type": kind, "id": entity_id, "deleted": data is None, "data": data}
                )
        return changes

    async def _everything_in(self, family_ids: set[uuid.UUID]) -> dict[str, set[uuid.UUID]]:
        ids: dict[str, set[uuid.UUID]] = {"family": set(family_ids)}
        for kind, model, live in (
            ("member", FamilyMember, None),
            ("habit", Habit, Habit.deleted_at),
            ("habit_version", HabitVersion, None),
            ("routine", Routine, Routine.deleted_at),
            ("routine_version", RoutineVersion, None),
            ("checkin", Checkin, None),
        ):
            query = select(model.id).where(model.family_id.in_(family_ids))
            if live is not None:
                query = query.where(live.is_(None))
            ids[kind] = set(await self.session.scalars(query))
        return ids

    async def _load(self, wanted: dict[str, set[uuid.UUID]]) -> dict[str, dict[uuid.UUID, Any]]:
        """Current GET shapes of the wanted entities the caller can still see."""
        found: dict[str, dict[uuid.UUID, Any]] = {kind: {} for kind in TYPE_ORDER}
        if wanted["family"]:
            rows = await self.session.execute(
                families_of(self.actor).where(Family.id.in_(wanted["family"]))
            )
            for family, membership in rows.tuples():
                found["family"][family.id] = _dump(
                    FamilyRead, FamilyView(family, membership).as_dict()
                )
        if wanted["member"]:
            for member in await self.session.scalars(
                select(FamilyMember).where(FamilyMember.id.in_(wanted["member"]))
            ):
                found["member"][member.id] = MemberRead.model_validate(member).model_dump(
                    mode="json"
                )
        if wanted["habit"]:
            habit_rows = (
                await self.session.execute(
                    with_assignee_clock(
                        select(Habit).where(
                            Habit.id.in_(wanted["habit"]), Habit.deleted_at.is_(None)
                        )
                    )
                )
            ).tuples()
            now = datetime.now(UTC)
            habits = [
                (habit, clock_of(member, family, profile))
                for habit, member, family, profile in habit_rows
            ]
            versions = await load_versions(self.session, [habit.id for habit, _ in habits])
            for habit, clock in habits:
                # The version in force on the assignee's today, as GET /v1/habits/{id} shows it.
                version = in_force(versions[habit.id], clock.today(now))
                found["habit"][habit.id] = _dump(HabitRead, HabitView(habit, version).as_dict())
        if wanted["habit_version"]:
            for version in await self.session.scalars(
                select(HabitVersion).where(HabitVersion.id.in_(wanted["habit_version"]))
            ):
                found["habit_version"][version.id] = {
                    "id": str(version.id),
                    "habit_id": str(version.habit_id),
                    **HabitVersionRead.model_validate(version).model_dump(mode="json"),
                }
        if wanted["routine"] or wanted["routine_version"]:
            await self._load_routines(wanted, found)
        if wanted["checkin"]:
            for checkin in await self.session.scalars(
                select(Checkin).where(Checkin.id.in_(wanted["checkin"]))
            ):
                found["checkin"][checkin.id] = CheckinRead.model_validate(checkin).model_dump(
                    mode="json"
                )
        return found

    async def _load_routines(
        self, wanted: dict[str, set[uuid.UUID]], found: dict[str, dict[uuid.UUID, Any]]
    ) -> None:
        routines = list(
            await self.session.scalars(
                select(Routine).where(
                    Routine.id.in_(wanted["routine"]), Routine.deleted_at.is_(None)
                )
            )
        )
        current_keys = [(routine.id, routine.current_version) for routine in routines]
        versions = list(
            await self.session.scalars(
                select(RoutineVersion).where(
                    RoutineVersion.id.in_(wanted["routine_version"])
                    | func.row(RoutineVersion.routine_id, RoutineVersion.number).in_(current_keys)
                )
            )
        )
        current = {(v.routine_id, v.number): v for v in versions}
        for routine in routines:
            view = RoutineView(routine, current[(routine.id, routine.current_version)])
            found["routine"][routine.id] = _dump(RoutineRead, view.as_dict())
        for version in versions:
            if version.id in wanted["routine_version"]:
                found["routine_version"][version.id] = {
                    "id": str(version.id),
                    "routine_id": str(version.routine_id),
                    **_dump(RoutineVersionRead, version_dict(version)),
                }


def _dump(schema: type[BaseModel], data: object) -> dict[str, Any]:
    """The JSON the resource's own GET sends."""
    return schema.model_validate(data).model_dump(mode="json")
