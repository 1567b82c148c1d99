"""Delta sync for offline-first clients: every change visible to the caller since a cursor.

Why the cursor follows transaction ids. Triggers log each change with the writing
transaction's id (`txid`). A transaction that started early can commit after later ones, so
"changes after the last one I saw" by insert order would skip it. Instead each read first
takes the horizon `xmin` of a fresh snapshot (every transaction with a smaller id has ended)
and only delivers changes of transactions below it, ordered by (txid, seq). The cursor
remembers the horizon and the last delivered (txid, seq); nothing below the horizon can
appear later, and nothing at or above it has been delivered yet. A change waits at most as
long as the oldest open transaction lasts.

Joining a family. The log row that says "you joined family F" stands for everything already
in F, which may be years of check-ins. A page ends at that row, and the cursor then walks F's
current contents kind by kind in id order (`Snapshot`), a page at a time, before going back
to the log right after the join row. Whatever changes in F meanwhile is logged after the
join row, so it comes after the snapshot: a page's cost follows the page, not the history.
A page also stops short of `limit` entities when their JSON nears 1 MB (`PAGE_BYTES`).

Retention. The log is compacted (`services/change_log.py`), which may remove tombstones a
client has not seen; it raises `sync_log_state.resync_below_txid` past them first. A cursor
that has not seen every change below that bound gets 410 `resync_required`, except within a
pass that began with no cursor (`fresh`): a client that holds nothing misses no deletion.
"""

from __future__ import annotations

import base64
import functools
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    BigInteger,
    Select,
    TextClause,
    literal,
    select,
    text,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core.errors import Gone, Unprocessable
from app.domain.actor import Actor
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
from app.repositories.tenancy import families_of, memberships_of
from app.schemas.family import FamilyRead, MemberRead
from app.schemas.habit import CheckinRead, HabitRead, HabitVersionRead
from app.schemas.routine import RoutineRead, RoutineVersionRead
from app.services.families import FamilyView
from app.services.habit_context import clock_of, in_force, load_versions, with_assignee_clock
from app.services.habits import HabitView
from app.services.id_lists import among
from app.services.rate_limits import RateLimits
from app.services.routines import RoutineView, version_dict

DEFAULT_LIMIT = 200
MAX_LIMIT = 1000
# The order a client applies changes in: parents before children.
TYPE_ORDER = ("family", "member", "habit", "habit_version", "routine", "routine_version", "checkin")
NIL_UUID = uuid.UUID(int=0)
# A page stops short of `limit` entities when their JSON would pass this (the envelope and
# escaped non-ASCII text stay well inside 1 MB): a note or a description can be KBs.
PAGE_BYTES = 768 * 1024
_CHANGE_OVERHEAD = 80  # {"type":..,"id":..,"deleted":..,"data":..} around the resource
_RESYNC_BELOW = text("select resync_below_txid from public.sync_log_state")
# What a joined family's snapshot walks, in this order (the family itself comes with the join
# row): each kind's table, and whether it soft-deletes (only live rows are sent).
SNAPSHOT_KINDS = TYPE_ORDER[1:]
_SNAPSHOT_TABLES = {
    "member": ("family_members", False),
    "habit": ("habits", True),
    "habit_version": ("habit_versions", False),
    "routine": ("routines", True),
    "routine_version": ("routine_versions", False),
    "checkin": ("checkins", False),
}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Where a cursor is inside a joined family's contents: the kind (index into
    SNAPSHOT_KINDS) and the last id of that kind delivered."""

    family_id: uuid.UUID
    kind: int = 0
    after_id: uuid.UUID = NIL_UUID


@dataclass(frozen=True, slots=True)
class Cursor:
    horizon: int = 0  # every change of a transaction below this id was delivered
    after_txid: int = 0
    after_seq: int = 0
    # The pass began with no cursor: the client holds nothing yet, so tombstones removed by
    # compaction are nothing it could miss. Ends with the pass (`has_more` false).
    fresh: bool = False
    # Set while a joined family's contents are being paged; (after_txid, after_seq) is then
    # the join row, where the log resumes.
    snapshot: Snapshot | None = None

    @property
    def continues_a_pass(self) -> bool:
        """Issued with `has_more` (a pass ended leaves only a horizon)."""
        return self.after_seq > 0 or self.snapshot is not None

    @property
    def seen_below_txid(self) -> int:
        """Every change of a transaction below this id has been delivered."""
        return max(self.horizon, self.after_txid)

    def encode(self) -> str:
        fields: list[Any] = [self.horizon, self.after_txid, self.after_seq, int(self.fresh)]
        if self.snapshot is not None:
            snapshot = self.snapshot
            fields += [snapshot.family_id.hex, snapshot.kind, snapshot.after_id.hex]
        raw = json.dumps(fields, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str | None) -> Cursor:
        if not value:
            return cls(fresh=True)
        try:
            fields = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
            # Three fields: a cursor issued before passes and snapshots existed.
            if not isinstance(fields, list) or len(fields) not in (3, 4, 7):
                raise ValueError("not a cursor")
            horizon, txid, seq = (int(field) for field in fields[:3])
            fresh = len(fields) > 3 and bool(int(fields[3]))
            snapshot = None
            if len(fields) == 7:
                kind = int(fields[5])
                if not 0 <= kind < len(SNAPSHOT_KINDS):
                    raise ValueError("not a cursor")
                snapshot = Snapshot(uuid.UUID(fields[4]), kind, uuid.UUID(fields[6]))
            return cls(horizon, txid, seq, fresh, snapshot)
        except (ValueError, TypeError, AttributeError) as error:
            raise Unprocessable(
                "The cursor is not one this API issued.", code="invalid_cursor"
            ) from error


class ResyncRequired(Gone):
    code = "resync_required"
    title = "Sync from zero"


class SyncService:
    def __init__(
        self, session: AsyncSession, actor: Actor, *, rate_limits: RateLimits | None = None
    ) -> None:
        self.session = session
        self.actor = actor
        self.rate_limits = rate_limits

    async def changes(self, cursor_text: str | None, limit: int) -> dict[str, Any]:
        cursor = Cursor.decode(cursor_text)
        if self.rate_limits is not None:
            limits = self.rate_limits
            await (limits.sync_pages if cursor.continues_a_pass else limits.sync).take(self.session)
        if cursor.snapshot is not None:
            return await self._snapshot_page(cursor, limit)
        horizon = int(
            await self.session.scalar(
                text("select pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            )
        )
        rows = (await self.session.scalars(self._log_page(cursor, horizon, limit + 1))).all()
        if not cursor.fresh:
            # Read after the rows: compaction raises the bound (committed) before it removes
            # a tombstone, so any removal the rows above missed is covered by what this sees.
            resync_below = int(await self.session.scalar(_RESYNC_BELOW) or 0)
            if resync_below > cursor.seen_below_txid:
                raise ResyncRequired(
                    "This cursor is older than the change log's history: drop the local copy"
                    " and sync again without a cursor."
                )
        has_more = len(rows) > limit
        rows = rows[:limit]
        joined = next((row for row in rows if _is_join(row)), None)
        if joined is not None:
            # The page ends with the join; the family's contents come in the next pages.
            rows = rows[: rows.index(joined) + 1]
            has_more = True
        found = await self._load(_wanted((row.entity_type, row.entity_id) for row in rows))
        kept = _within_budget([(row.entity_type, row.entity_id) for row in rows], found)
        if kept < len(rows):
            rows, has_more, joined = rows[:kept], True, None
        if joined is not None:
            next_cursor = Cursor(
                cursor.horizon, joined.txid, joined.seq, cursor.fresh, Snapshot(joined.family_id)
            )
        elif has_more:
            last = rows[-1]
            next_cursor = Cursor(cursor.horizon, last.txid, last.seq, cursor.fresh)
        else:
            next_cursor = Cursor(max(cursor.horizon, horizon))
        changes = _changes(found, ((row.entity_type, row.entity_id) for row in rows))
        return {"changes": changes, "next_cursor": next_cursor.encode(), "has_more": has_more}

    def _log_page(self, cursor: Cursor, horizon: int, size: int) -> Select[tuple[SyncChange]]:
        """The next `size` log rows for the caller after the cursor, in (txid, seq) order:
        each of the caller's families walks its (family_id, txid, seq) index for at most
        `size` rows, and so do the caller's own access rows; the merge keeps the first
        `size`. A page reads about `size` rows per family, however long the log is."""

        def after_cursor(query: Select[Any]) -> Select[Any]:
            return (
                query.where(
                    SyncChange.txid >= cursor.horizon,
                    SyncChange.txid < horizon,
                    tuple_(SyncChange.txid, SyncChange.seq)
                    > tuple_(
                        literal(cursor.after_txid, BigInteger),
                        literal(cursor.after_seq, BigInteger),
                    ),
                )
                .order_by(SyncChange.txid, SyncChange.seq)
                .limit(size)
            )

        mine = memberships_of(self.actor).subquery("mine")
        per_family = after_cursor(
            select(SyncChange).where(
                SyncChange.family_id == mine.c.family_id, SyncChange.user_id.is_(None)
            )
        ).lateral("family_changes")
        family_rows = select(per_family).select_from(mine).join(per_family, true())
        access_rows = after_cursor(
            select(SyncChange).where(SyncChange.user_id == self.actor.user_id)
        ).subquery("access_changes")
        merged = union_all(family_rows, select(access_rows)).subquery("changes")
        change = aliased(SyncChange, merged)
        return select(change).order_by(change.txid, change.seq).limit(size)

    async def _snapshot_page(self, cursor: Cursor, limit: int) -> dict[str, Any]:
        """The next `limit` entities of a joined family, in (kind, id) order. RLS hides the
        family's rows from a caller who has left it meanwhile: the snapshot then simply ends
        (the log after the join row carries the tombstone)."""
        snapshot = cursor.snapshot
        assert snapshot is not None
        found_ids = (
            await self.session.execute(
                _snapshot_ids_query(snapshot.kind),
                {
                    "family_id": snapshot.family_id,
                    "after_id": snapshot.after_id,
                    "limit": limit + 1,
                },
            )
        ).all()
        has_more_inside = len(found_ids) > limit
        found_ids = found_ids[:limit]
        keys = [(SNAPSHOT_KINDS[kind], entity_id) for kind, entity_id in found_ids]
        found = await self._load(_wanted(keys))
        kept = _within_budget(keys, found)
        if kept < len(keys):
            found_ids, keys, has_more_inside = found_ids[:kept], keys[:kept], True
        if has_more_inside:
            last_kind, last_id = found_ids[-1]
            position = Snapshot(snapshot.family_id, last_kind, last_id)
            next_cursor = Cursor(
                cursor.horizon, cursor.after_txid, cursor.after_seq, cursor.fresh, position
            )
        else:  # back to the log, right after the join row
            next_cursor = Cursor(cursor.horizon, cursor.after_txid, cursor.after_seq, cursor.fresh)
        changes = _changes(found, keys)
        return {"changes": changes, "next_cursor": next_cursor.encode(), "has_more": True}

    async def _load(self, wanted: dict[str, set[uuid.UUID]]) -> dict[str, dict[uuid.UUID, Any]]:
        """Current GET shapes of the wanted entities the caller can still see."""
        found: dict[str, dict[uuid.UUID, Any]] = {kind: {} for kind in TYPE_ORDER}
        if wanted["family"]:
            rows = await self.session.execute(
                families_of(self.actor).where(among(Family.id, wanted["family"]))
            )
            for family, membership in rows.tuples():
                found["family"][family.id] = _dump(
                    FamilyRead, FamilyView(family, membership).as_dict()
                )
        if wanted["member"]:
            for member in await self.session.scalars(
                select(FamilyMember).where(among(FamilyMember.id, wanted["member"]))
            ):
                found["member"][member.id] = MemberRead.model_validate(member).model_dump(
                    mode="json"
                )
        if wanted["habit"]:
            habit_rows = (
                await self.session.execute(
                    with_assignee_clock(
                        select(Habit).where(
                            among(Habit.id, wanted["habit"]), Habit.deleted_at.is_(None)
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
                current = in_force(versions[habit.id], clock.today(now))
                found["habit"][habit.id] = _dump(HabitRead, HabitView(habit, current).as_dict())
        if wanted["habit_version"]:
            for version in await self.session.scalars(
                select(HabitVersion).where(among(HabitVersion.id, wanted["habit_version"]))
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
                select(Checkin).where(among(Checkin.id, wanted["checkin"]))
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
                    among(Routine.id, wanted["routine"]), Routine.deleted_at.is_(None)
                )
            )
        )
        # The wanted versions, and the current version of each wanted routine.
        current_of_wanted = (
            select(RoutineVersion.id)
            .join(
                Routine,
                (Routine.id == RoutineVersion.routine_id)
                & (Routine.current_version == RoutineVersion.number),
            )
            .where(among(Routine.id, wanted["routine"]))
        )
        versions = list(
            await self.session.scalars(
                select(RoutineVersion).where(
                    among(RoutineVersion.id, wanted["routine_version"])
                    | RoutineVersion.id.in_(current_of_wanted)
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


def _wanted(keys: Iterable[tuple[str, uuid.UUID]]) -> dict[str, set[uuid.UUID]]:
    wanted: dict[str, set[uuid.UUID]] = {kind: set() for kind in TYPE_ORDER}
    for kind, entity_id in keys:
        wanted[kind].add(entity_id)
    return wanted


def _within_budget(
    keys: list[tuple[str, uuid.UUID]], found: dict[str, dict[uuid.UUID, Any]]
) -> int:
    """How many of `keys` (in delivery order) fit in PAGE_BYTES; at least one, so a page
    always moves the cursor on. Each entity counts once, by its JSON."""
    counted: set[tuple[str, uuid.UUID]] = set()
    total = 0
    for position, key in enumerate(keys):
        if key in counted:
            continue
        data = found[key[0]].get(key[1])
        total += _CHANGE_OVERHEAD + (len(json.dumps(data, separators=(",", ":"))) if data else 0)
        if total > PAGE_BYTES and position > 0:
            return position
        counted.add(key)
    return len(keys)


def _changes(
    found: dict[str, dict[uuid.UUID, Any]], keys: Iterable[tuple[str, uuid.UUID]]
) -> list[dict[str, Any]]:
    """Each entity once, in its latest state, parents before children; deleted (or no
    longer visible) ones as tombstones."""
    wanted = _wanted(keys)
    changes = []
    for kind in TYPE_ORDER:
        for entity_id in sorted(wanted[kind]):
            data = found[kind].get(entity_id)
            changes.append({"type": kind, "id": entity_id, "deleted": data is None, "data": data})
    return changes


def _is_join(row: SyncChange) -> bool:
    """The row tells the caller they gained a family (a `user_id` row that is no tombstone)."""
    return row.user_id is not None and not row.deleted


@functools.cache
def _snapshot_ids_query(from_kind: int) -> TextClause:
    """The next ids of a family's snapshot from kind `from_kind` on, in (kind, id) order:
    after `:after_id` within that kind, from the first id in the later ones. Each kind reads
    at most `:limit` ids through its (family_id, id) index, so a page costs its size."""
    branches = []
    for kind in range(from_kind, len(SNAPSHOT_KINDS)):
        table, soft = _SNAPSHOT_TABLES[SNAPSHOT_KINDS[kind]]
        after = ":after_id" if kind == from_kind else f"'{NIL_UUID}'::uuid"
        live = " and deleted_at is null" if soft else ""
        branches.append(
            # Names from _SNAPSHOT_TABLES only; every value is a bind parameter.
            f"(select {kind} as kind, id from public.{table}"  # noqa: S608
            f" where family_id = :family_id and id > {after}{live}"
            f" order by id limit :limit)"
        )
    return text(
        f"select kind, id from ({' union all '.join(branches)}) as ids"  # noqa: S608
        " order by kind, id limit :limit"
    )


def _dump(schema: type[BaseModel], data: object) -> dict[str, Any]:
    """The JSON the resource's own GET sends."""
    return schema.model_validate(data).model_dump(mode="json")
