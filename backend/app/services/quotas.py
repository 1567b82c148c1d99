"""Per-user and per-family limits on what accumulates: families a login belongs to, habits,
managed profiles and pending invitations of a family, versions of a habit.

Each is a setting (`MAX_...`, see the README); reaching one is `409` with a code naming it.
Counted after the request's retried-create check (a retry of a create that succeeded is never
refused) and under a transaction-scoped advisory lock per quota and family (or login), so
concurrent creates cannot overshoot. Advisory, because a member may create a habit but may
not lock the family row (RLS lets only admins update it, and `FOR UPDATE` needs that). The
locks and counts are `app.repositories.limits`'."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.errors import Conflict
from app.core.problem_codes import declare
from app.domain.actor import Actor
from app.repositories import limits


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

    async def ensure_another_family(self, session: AsyncSession, actor: Actor) -> None:
        """Before the login creates or joins a family."""
        await limits.serialise_quota(session, "families", actor.user_id)
        count = await limits.my_family_count(session, actor)
        _check(count, self.families_per_user, FAMILY_QUOTA, "families per login")

    async def ensure_families_within(self, session: AsyncSession, actor: Actor) -> None:
        """After the login joined a family (the join is rolled back when it went over)."""
        await limits.serialise_quota(session, "families", actor.user_id)
        count = await limits.my_family_count(session, actor)
        _check(count - 1, self.families_per_user, FAMILY_QUOTA, "families per login")

    async def ensure_another_habit(self, session: AsyncSession, family_id: uuid.UUID) -> None:
        await limits.serialise_quota(session, "habits", family_id)
        count = await limits.live_habits(session, family_id)
        _check(count, self.habits_per_family, HABIT_QUOTA, "habits per family")

    async def ensure_another_managed_profile(
        self, session: AsyncSession, family_id: uuid.UUID
    ) -> None:
        await limits.serialise_quota(session, "managed_profiles", family_id)
        count = await limits.managed_profiles(session, family_id)
        _check(
            count,
            self.managed_profiles_per_family,
            MANAGED_PROFILE_QUOTA,
            "managed profiles per family",
        )

    async def ensure_another_invitation(self, session: AsyncSession, family_id: uuid.UUID) -> None:
        await limits.serialise_quota(session, "invitations", family_id)
        count = await limits.pending_invitations(session, family_id)
        _check(
            count,
            self.pending_invitations_per_family,
            INVITATION_QUOTA,
            "pending invitations per family (revoke some)",
        )

    def ensure_another_version(self, versions: int) -> None:
        _check(versions, self.versions_per_habit, HABIT_VERSION_QUOTA, "versions per habit")


def _check(count: int, limit: int, code: str, what: str) -> None:
    if count >= limit:
        raise QuotaReached(f"The limit of {limit} {what} is reached.", code=code, limit=limit)
