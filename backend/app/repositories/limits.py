"""Limits: the statements behind quotas (advisory locks and counts of what accumulates) and
rate limits (`public.take_rate_limit` and its table's clean-up). The limits themselves, and
the errors when one is reached, are the services' (`quotas`, `rate_limits`)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.domain.actor import Actor
from app.models import FamilyMember, Habit, Invitation
from app.repositories.invitations import pending
from app.repositories.tenancy import memberships_of

_TAKE = "select public.take_rate_limit($1, $2, $3)"
_FORGET = text("delete from public.rate_limits where window_start < now() - interval '1 hour'")


# --- quotas -----------------------------------------------------------------------------


async def serialise_quota(session: AsyncSession, quota: str, owner: uuid.UUID) -> None:
    """Until the transaction ends, one request at a time counts and adds to this quota of
    this owner (a family or a login): a transaction-scoped advisory lock."""
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(f"quota:{quota}:{owner}", 17)))
    )


async def my_family_count(session: AsyncSession, actor: Actor) -> int:
    """The families the actor belongs to."""
    mine = memberships_of(actor).subquery()
    return int(await session.scalar(select(func.count()).select_from(mine)) or 0)


async def live_habits(session: AsyncSession, family_id: uuid.UUID) -> int:
    """The family's habits, deleted ones left out."""
    return await _count(session, Habit.family_id == family_id, Habit.deleted_at.is_(None))


async def managed_profiles(session: AsyncSession, family_id: uuid.UUID) -> int:
    """The family's members without a login."""
    return await _count(
        session, FamilyMember.family_id == family_id, FamilyMember.user_id.is_(None)
    )


async def pending_invitations(session: AsyncSession, family_id: uuid.UUID) -> int:
    return await _count(session, Invitation.family_id == family_id, pending())


async def _count(session: AsyncSession, *conditions: Any) -> int:
    return int(await session.scalar(select(func.count()).where(*conditions)) or 0)


# --- rate limits ------------------------------------------------------------------------


async def take_rate_limit(
    session: AsyncSession, bucket: str, per_minute: int, window_seconds: int
) -> int | None:
    """Count one request of the session's login in the bucket: None (or 0) when within the
    limit, else the seconds until the window ends."""
    wait: int | None = await session.scalar(
        select(func.public.take_rate_limit(bucket, per_minute, window_seconds))
    )
    return wait


async def take_rate_limit_on(
    connection: Any, bucket: str, per_minute: int, window_seconds: int
) -> int | None:
    """The same on a hot path's asyncpg connection (`app.db.sql`)."""
    wait: int | None = await connection.fetchval(_TAKE, bucket, per_minute, window_seconds)
    return wait


async def forget_old_windows(engine: AsyncEngine) -> int:
    """Drop counters whose window ended long ago; how many went."""
    async with engine.begin() as connection:
        result = await connection.execute(_FORGET)
    return int(result.rowcount or 0)
