"""What importing a Loop backup writes: the import keys that make a repeated import create
nothing, and the imported habits, versions and check-ins as bulk inserts (a fixed number of
statements whatever the file holds). How Loop's data becomes rows is the service's
(`app.services.loop_import`)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Checkin, Habit, HabitVersion, ImportKey


async def claim_key(
    session: AsyncSession, family_id: uuid.UUID, member_id: uuid.UUID, key: str
) -> bool:
    """Record the key for the member; False when the member already has it."""
    claimed = await session.scalar(
        pg_insert(ImportKey)
        .values(family_id=family_id, member_id=member_id, key=key)
        .on_conflict_do_nothing(index_elements=["member_id", "key"])
        .returning(ImportKey.id)
    )
    return claimed is not None


async def known_keys(
    session: AsyncSession, member_id: uuid.UUID, keys: Collection[str]
) -> set[str]:
    """Those of `keys` the member already has."""
    rows = await session.scalars(
        select(ImportKey.key).where(ImportKey.member_id == member_id, ImportKey.key.in_(list(keys)))
    )
    return set(rows)


async def insert_imported(
    session: AsyncSession,
    *,
    habits: Sequence[dict[str, Any]],
    versions: Sequence[dict[str, Any]],
    habit_keys: Sequence[dict[str, Any]],
    checkins: Sequence[dict[str, Any]],
) -> None:
    """Insert the rows, one statement per table that has any."""
    if habits:
        await session.execute(insert(Habit), habits)
        await session.execute(insert(HabitVersion), versions)
        await session.execute(insert(ImportKey), habit_keys)
    if checkins:
        await session.execute(insert(Checkin), checkins)
