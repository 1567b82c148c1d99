"""Per-user and per-family limits on what accumulates: families a login belongs to, habits,
managed profiles and pending invitations of a family, versions of a habit.

Each is a setting (`MAX_...`, see the README); reaching one is `409` with a code naming it.
Counted after the request's retried-create check (a retry of a create that succeeded is never
refused) and under a transaction-scoped advisory lock per quota and family (or login), so
concurrent creates cannot overshoot. Advisory, because a member may create a habit but may
not lock the family row (RLS lets only admins update it, and `FOR UPDATE` needs that)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.errors import Conflict
from app.core.problem_codes import declare
from app.models import FamilyMember, Habit, Invitation


class QuotaReached(Conflict):
    title = "Quota reached"


# The codes, declared where they are raised (the registry feeds `Problem.code`'s enum).
FAMILY_QUOTA = declare(
    "family_quota_reached", 409, "You belong to as many families as a login may (`limit`)."
)
HABIT_QUOTA = declare(
    "habit_quota_reached", 409, "The family has as many habits as it may (`limit`)."
)
MANAGED_PROFILE_QUOTA = declare(
    "managed_profile_quota_reached",
    409,
    "The family has as many managed profiles as it may (`limit`).",
)
INVITATION_QUOTA = declare(
    "invitation_quota_reached",
    409,
    "The family has as many pending invitations as it may (`limit`); revoke one first.",
)
HABIT_VERSION_QUOTA = declare(
    "habit_version_quota_reached", 409, "The habit has as many versions as it may (`limit`)."
)


@dataclass(frozen=True, slots=True)
class Quotas:
    families_per_user: int
    habits_per_family: int
    managed_profiles_per_family: int
    pending_invitations_per_family: int
    versions_per_habit: int

    @classmethod
    def of(cls, settings: Settings) -> Quotas:
        return cls(
            families_per_user=settings.max_families_per_user,
            habits_per_family=settings.max_habits_per_family,
            managed_profiles_per_family=settings.max_managed_profiles_per_family,
            pending_invitations_per_family=settings.max_pending_invitations_per_family,
            versions_per_habit=settings.max_versions_per_habit,
        )

    async def ensure_another_family(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        """Before the login creates or joins a family."""
        await _serialise(session, "families", user_id)
        count = await _count(session, FamilyMember.user_id == user_id)
        _check(count, self.families_per_user, FAMILY_QUOTA, "families per login")

    async def ensure_families_within(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        """After the login joined a family (the join is rolled back when it went over)."""
        await _serialise(session, "families", user_id)
        count = await _count(session, FamilyMember.user_id == user_id)
        _check(count - 1, self.families_per_user, FAMILY_QUOTA, "families per login")

    async def ensure_another_habit(self, session: AsyncSession, family_id: uuid.UUID) -> None:
        await _serialise(session, "habits", family_id)
        count = await _count(session, Habit.family_id == family_id, Habit.deleted_at.is_(None))
        _check(count, self.habits_per_family, HABIT_QUOTA, "habits per family")

    async def ensure_another_managed_profile(
        self, session: AsyncSession, family_id: uuid.UUID
    ) -> None:
        await _serialise(session, "managed_profiles", family_id)
        count = await _count(
            session, FamilyMember.family_id == family_id, FamilyMember.user_id.is_(None)
        )
        _check(
            count,
            self.managed_profiles_per_family,
            MANAGED_PROFILE_QUOTA,
            "managed profiles per family",
        )

    async def ensure_another_invitation(self, session: AsyncSession, family_id: uuid.UUID) -> None:
        await _serialise(session, "invitations", family_id)
        count = await _count(
            session,
            Invitation.family_id == family_id,
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > func.now(),
            Invitation.use_count < Invitation.max_uses,
        )
        _check(
            count,
            self.pending_invitations_per_family,
            INVITATION_QUOTA,
            "pending invitations per family (revoke some)",
        )

    def ensure_another_version(self, versions: int) -> None:
        _check(versions, self.versions_per_habit, HABIT_VERSION_QUOTA, "versions per habit")


async def _serialise(session: AsyncSession, quota: str, owner: uuid.UUID) -> None:
    """Until the transaction ends, one request at a time counts and adds to this quota."""
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(f"quota:{quota}:{owner}", 17)))
    )


async def _count(session: AsyncSession, *conditions: Any) -> int:
    return int(await session.scalar(select(func.count()).where(*conditions)) or 0)


def _check(count: int, limit: int, code: str, what: str) -> None:
    if count >= limit:
        raise QuotaReached(f"The limit of {limit} {what} is reached.", code=code, limit=limit)
