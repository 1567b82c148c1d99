"""Delta sync's reads: the change log after a cursor (only the caller's families' rows and
the caller's own access rows, joined through `app.repositories.tenancy`), the ids of a
joined family's snapshot, and the current rows of changed entities by id. The cursor, its
rules and the response's shape are the service's (`app.services.sync`)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection
from typing import Any

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

from app.domain.actor import Actor
from app.models import (
    Checkin,
    Family,
    FamilyMember,
    HabitVersion,
    Routine,
    RoutineVersion,
    SyncChange,
)
from app.repositories.families import MyFamily
from app.repositories.id_lists import among
from app.repositories.tenancy import addressed_to, families_of, memberships_of

# What a joined family's snapshot walks, in this order (the family itself comes with the join
# row): each kind's table, and whether it soft-deletes (only live rows are sent). A cursor
# names a kind by its index here.
SNAPSHOT_KINDS = ("member", "habit", "habit_version", "routine", "routine_version", "checkin")
_SNAPSHOT_TABLES = {
    "member": ("family_members", False),
    "habit": ("habits", True),
    "habit_version": ("habit_versions", False),
    "routine": ("routines", True),
    "routine_version": ("routine_versions", False),
    "checkin": ("checkins", False),
}
NIL_UUID = uuid.UUID(int=0)
_XMIN = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
_BOUND = "select resync_below_txid from public.sync_log_state"
_HORIZON = text(f"select {_XMIN}")
_RESYNC_BELOW = text(_BOUND)
_HORIZON_AND_RESYNC_BELOW = text(f"select {_XMIN}, ({_BOUND})")


async def horizon(session: AsyncSession) -> int:
    """The oldest transaction id still open: every transaction below it has ended."""
    return int(await session.scalar(_HORIZON))


async def resync_below(session: AsyncSession) -> int:
    """Compaction may have removed tombstones of transactions below this id."""
    return int(await session.scalar(_RESYNC_BELOW) or 0)


async def horizon_and_resync_below(session: AsyncSession) -> tuple[int, int]:
    """`horizon` and `resync_below` in one round trip, as a pass from no cursor begins."""
    horizon, bound = (await session.execute(_HORIZON_AND_RESYNC_BELOW)).one()
    return int(horizon), int(bound or 0)


async def log_page(
    session: AsyncSession,
    actor: Actor,
    *,
    from_txid: int,
    below_txid: int,
    after: tuple[int, int],
    size: int,
) -> list[SyncChange]:
    """The next `size` log rows for the actor with `from_txid <= txid < below_txid` and
    (txid, seq) after `after`, in (txid, seq) order: each of the actor's families walks its
    (family_id, txid, seq) index for at most `size` rows, and so do the actor's own access
    rows; the merge keeps the first `size`. A page reads about `size` rows per family,
    however long the log is."""
    after_txid, after_seq = after

    def after_cursor(query: Select[Any]) -> Select[Any]:
        return (
            query.where(
                SyncChange.txid >= from_txid,
                SyncChange.txid < below_txid,
                tuple_(SyncChange.txid, SyncChange.seq)
                > tuple_(literal(after_txid, BigInteger), literal(after_seq, BigInteger)),
            )
            .order_by(SyncChange.txid, SyncChange.seq)
            .limit(size)
        )

    mine = memberships_of(actor).subquery("mine")
    per_family = after_cursor(
        select(SyncChange).where(
            SyncChange.family_id == mine.c.family_id, SyncChange.user_id.is_(None)
        )
    ).lateral("family_changes")
    family_rows = select(per_family).select_from(mine).join(per_family, true())
    access_rows = after_cursor(
        select(SyncChange).where(addressed_to(actor, SyncChange.user_id))
    ).subquery("access_changes")
    merged = union_all(family_rows, select(access_rows)).subquery("changes")
    change = aliased(SyncChange, merged)
    query = select(change).order_by(change.txid, change.seq).limit(size)
    return list((await session.scalars(query)).all())


async def snapshot_ids(
    session: AsyncSession, family_id: uuid.UUID, *, kind: int, after_id: uuid.UUID, limit: int
) -> list[tuple[int, uuid.UUID]]:
    """The next `limit` (kind, id) of the family's live contents from `kind` on, after
    `after_id` within that kind. RLS hides the rows of a family the caller has left: the
    answer is then empty."""
    rows = await session.execute(
        _snapshot_ids_query(kind), {"family_id": family_id, "after_id": after_id, "limit": limit}
    )
    return [(row_kind, entity_id) for row_kind, entity_id in rows]


@functools.cache
def _snapshot_ids_query(from_kind: int) -> TextClause:
    """Each kind reads at most `:limit` ids through its (family_id, id) index, so a page
    costs its size."""
    branches = []
    for kind in range(from_kind, len(SNAPSHOT_KINDS)):
        table, soft = _SNAPSHOT_TABLES[SNAPSHOT_KINDS[kind]]
        after = ":after_id" if kind == from_kind else f"'{NIL_UUID}'::uuid"
        live = " and deleted_at is null" if soft else ""
        branches.append(
            # Names from _SNAPSHOT_TABLES only; every value is a bind parameter.
            f"(select {kind} as kind, id from public.{table}"
            f" where family_id = :family_id and id > {after}{live}"
            f" order by id limit :limit)"
        )
    return text(
        f"select kind, id from ({' union all '.join(branches)}) as ids"
        " order by kind, id limit :limit"
    )


# --- current rows by id (what the caller can still see) ---------------------------------


async def my_families(
    session: AsyncSession, actor: Actor, family_ids: Collection[uuid.UUID]
) -> list[MyFamily]:
    rows = await session.execute(families_of(actor).where(among(Family.id, family_ids)))
    return [MyFamily(family, membership) for family, membership in rows.tuples()]


async def members(session: AsyncSession, member_ids: Collection[uuid.UUID]) -> list[FamilyMember]:
    rows = await session.scalars(select(FamilyMember).where(among(FamilyMember.id, member_ids)))
    return list(rows)


async def habit_versions(
    session: AsyncSession, version_ids: Collection[uuid.UUID]
) -> list[HabitVersion]:
    rows = await session.scalars(select(HabitVersion).where(among(HabitVersion.id, version_ids)))
    return list(rows)


async def checkins(session: AsyncSession, checkin_ids: Collection[uuid.UUID]) -> list[Checkin]:
    rows = await session.scalars(select(Checkin).where(among(Checkin.id, checkin_ids)))
    return list(rows)


async def live_routines(session: AsyncSession, routine_ids: Collection[uuid.UUID]) -> list[Routine]:
    rows = await session.scalars(
        select(Routine).where(among(Routine.id, routine_ids), Routine.deleted_at.is_(None))
    )
    return list(rows)


async def routine_versions(
    session: AsyncSession,
    version_ids: Collection[uuid.UUID],
    *,
    current_of: Collection[uuid.UUID],
) -> list[RoutineVersion]:
    """The versions with these ids, and the current version of each routine in
    `current_of` (one statement)."""
    current_of_wanted = (
        select(RoutineVersion.id)
        .join(
            Routine,
            (Routine.id == RoutineVersion.routine_id)
            & (Routine.current_version == RoutineVersion.number),
        )
        .where(among(Routine.id, current_of))
    )
    rows = await session.scalars(
        select(RoutineVersion).where(
            among(RoutineVersion.id, version_ids) | RoutineVersion.id.in_(current_of_wanted)
        )
    )
    return list(rows)
