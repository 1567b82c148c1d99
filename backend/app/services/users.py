"""The caller's own profile: provisioning, changes, deletion (statements in
`app.repositories.users`)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, Unauthorized
from app.domain.actor import Actor
from app.domain.date_line import jumped_dates
from app.models import User
from app.models.enums import MemberRole
from app.repositories import users as users_repo
from app.repositories.date_line import skip_jumped_dates
from app.schemas.user import UserUpdate


class SoleOwner(Conflict):
    code = "sole_owner"
    title = "Sole owner"


class UserService:
    def __init__(self, session: AsyncSession, actor: Actor) -> None:
        self.session = session
        self.actor = actor

    async def provision(self) -> User:
        """The caller's profile, created from the token on first use (one statement either
        way: insert-or-nothing, then read)."""
        user = await users_repo.find_user(self.session, self.actor.user_id)
        if user is not None:
            return user
        await users_repo.insert_user_if_absent(
            self.session,
            self.actor.user_id,
            email=self.actor.email,
            full_name=self.actor.full_name_hint,
        )
        user = await users_repo.find_user(self.session, self.actor.user_id, reload=True)
        if user is None:  # pragma: no cover - the insert above guarantees it
            raise Unauthorized("The token's user no longer exists.", code="user_not_found")
        return user

    async def update(self, changes: UserUpdate, *, now: datetime | None = None) -> User:
        user = await self.provision()
        old_clock = (user.timezone, user.day_start_hour)
        for field, value in changes.model_dump(exclude_unset=True).items():
            setattr(user, field, value)
        await self.session.flush()
        new_clock = (user.timezone, user.day_start_hour)
        if new_clock != old_clock:
            dates = jumped_dates(old_clock, new_clock, now or datetime.now(UTC))
            await skip_jumped_dates(self.session, user.id, dates)
        await self.session.refresh(user)
        return user

    async def delete(self) -> None:
        """Delete the caller's profile and memberships, and the families only they were in.
        Refused while the caller is the only owner of a family that has other members."""
        rows = await users_repo.headcounts_of_my_families(self.session, self.actor)
        alone_in = [row.family_id for row in rows if row.members == 1]
        blocking = [
            row.family_id
            for row in rows
            if row.members > 1 and row.role == MemberRole.OWNER and row.owners == 1
        ]
        if blocking:
            raise SoleOwner(
                "You are the only owner of a family with other members; make someone else "
                "an owner or delete the family first.",
                family_ids=[str(family_id) for family_id in blocking],
            )
        # The counts above were read without locks: a change to the owners that commits
        # after them is caught by the last-owner check at COMMIT (409 `last_owner`).
        await users_repo.lock_what_my_deletion_touches(self.session, self.actor)
        if alone_in:
            await users_repo.delete_families(self.session, alone_in)
        await users_repo.delete_user(self.session, self.actor.user_id)
