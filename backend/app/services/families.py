"""Families: create, read, change, delete. The caller becomes owner of what they create."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, PreconditionFailed
from app.domain.actor import Actor
from app.domain.date_line import jumped_dates, skip_jumped_dates_of_managed_profiles
from app.models import Family, FamilyMember, Invitation
from app.models.enums import MemberRole
from app.repositories.tenancy import families_of
from app.schemas.family import FamilyCreate, FamilyUpdate
from app.services.pagination import page_of, paginate
from app.services.quotas import Quotas
from app.services.scope import FamilyNotFound, require_membership
from app.services.users import UserService


class IdConflict(Conflict):
    code = "id_conflict"
    title = "Id already used"


class VersionMismatch(PreconditionFailed):
    code = "version_mismatch"
    title = "Stale version"


@dataclass(frozen=True, slots=True)
class FamilyView:
    """A family as one member sees it: the family and the caller's membership."""

    family: Family
    membership: FamilyMember

    def as_dict(self) -> dict[str, object]:
        family = self.family
        return {
            "id": family.id,
            "name": family.name,
            "timezone": family.timezone,
            "version": family.version,
            "created_at": family.created_at,
            "updated_at": family.updated_at,
            "my_role": self.membership.role,
            "my_member_id": self.membership.id,
        }


class FamilyService:
    def __init__(
        self, session: AsyncSession, actor: Actor, *, quotas: Quotas | None = None
    ) -> None:
        self.session = session
        self.actor = actor
        self.quotas = quotas

    async def create(self, data: FamilyCreate) -> tuple[FamilyView, bool]:
        """Create the family with the caller as owner; `(view, created)`. A repeated create
        with the same id and body returns the existing family (created=False)."""
        if data.id is not None and (existing := await self._retried(data.id, data)) is not None:
            return existing, False
        user = await UserService(self.session, self.actor).provision()
        if self.quotas is not None:
            await self.quotas.ensure_another_family(self.session, self.actor.user_id)
        family_id = data.id or uuid.uuid4()
        display_name = user.full_name or (user.email or "").split("@")[0] or "Me"
        created = await self.session.scalar(
            select(
                func.public.create_family(
                    family_id, data.name, data.timezone, display_name[:100], data.my_member_id
                )
            )
        )
        if created is None:
            # The id was taken meanwhile: maybe by this very create, retried while the first
            # attempt was in flight (the insert waited for it to commit, so it is visible now).
            if (existing := await self._retried(family_id, data)) is not None:
                return existing, False
            raise IdConflict("This id is already used by another resource.")
        view = await self._find(family_id)
        assert view is not None
        return view, True

    async def _retried(self, family_id: uuid.UUID, data: FamilyCreate) -> FamilyView | None:
        """The caller's family with this id when `data` repeats its create; None when there is
        none; IdConflict when it exists with different content."""
        existing = await self._find(family_id)
        if existing is None:
            return None
        same_member = data.my_member_id in (None, existing.membership.id)
        if (existing.family.name, existing.family.timezone) != (data.name, data.timezone) or (
            not same_member
        ):
            raise IdConflict("A family with this id exists with different content.")
        return existing

    async def list(self, *, cursor: str | None, limit: int) -> tuple[list[FamilyView], str | None]:
        query = paginate(
            families_of(self.actor),
            created_at=Family.created_at,
            row_id=Family.id,
            cursor=cursor,
            limit=limit,
        )
        rows = (await self.session.execute(query)).tuples().all()
        page, next_cursor = page_of(rows, limit, key=lambda row: (row[0].created_at, row[0].id))
        return [FamilyView(family, membership) for family, membership in page], next_cursor

    async def get(self, family_id: uuid.UUID) -> FamilyView:
        view = await self._find(family_id)
        if view is None:
            raise FamilyNotFound("No family with this id is visible to you.")
        return view

    async def update(
        self, family_id: uuid.UUID, changes: FamilyUpdate, *, if_match: int | None
    ) -> FamilyView:
        membership = await require_membership(
            self.session, self.actor, family_id, at_least=MemberRole.ADMIN
        )
        expected = if_match if if_match is not None else changes.version
        values = changes.model_dump(exclude_unset=True, exclude={"version"}, exclude_none=True)
        old_timezone = None
        if "timezone" in values:
            old_timezone = await self.session.scalar(
                select(Family.timezone).where(Family.id == family_id)
            )
        statement = update(Family).where(Family.id == family_id).returning(Family)
        if expected is not None:
            statement = statement.where(Family.version == expected)
        if values:
            statement = statement.values(
                **values, version=Family.version + 1, updated_at=func.now()
            )
        else:  # nothing to change: still check the precondition, bump nothing
            statement = statement.values(version=Family.version)
        family = (
            await self.session.execute(statement, execution_options={"populate_existing": True})
        ).scalar_one_or_none()
        if family is None:
            raise VersionMismatch(
                "The family changed since you read it; fetch it again and retry.",
                expected_version=expected,
            )
        if old_timezone is not None and old_timezone != family.timezone:
            dates = jumped_dates((old_timezone, 0), (family.timezone, 0), datetime.now(UTC))
            await skip_jumped_dates_of_managed_profiles(
                self.session, family_id, self.actor.user_id, dates
            )
        return FamilyView(family, membership)

    async def delete(self, family_id: uuid.UUID) -> None:
        await require_membership(self.session, self.actor, family_id, at_least=MemberRole.OWNER)
        # Accepting an invitation locks the invitation, then the family (the new member's
        # foreign key); the cascade below would take them the other way round and deadlock
        # with a concurrent accept. Take the invitations first, like accept does.
        await self.session.execute(
            select(Invitation.id).where(Invitation.family_id == family_id).with_for_update()
        )
        await self.session.execute(delete(Family).where(Family.id == family_id))

    async def _find(self, family_id: uuid.UUID) -> FamilyView | None:
        row = (
            await self.session.execute(families_of(self.actor).where(Family.id == family_id))
        ).first()
        return FamilyView(row[0], row[1]) if row else None
