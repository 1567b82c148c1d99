"""Families: create, read, change, delete. The caller becomes owner of what they create.
The rules live here; the statements in `app.repositories.families`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, PreconditionFailed
from app.domain.actor import Actor
from app.domain.date_line import jumped_dates
from app.models import Family, FamilyMember
from app.models.enums import MemberRole
from app.repositories import families as families_repo
from app.repositories.date_line import skip_jumped_dates_of_managed_profiles
from app.schemas.family import FamilyCreate, FamilyUpdate
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
            await self.quotas.ensure_another_family(self.session, self.actor)
        family_id = data.id or uuid.uuid4()
        display_name = user.full_name or (user.email or "").split("@")[0] or "Me"
        created = await families_repo.create_family(
            self.session,
            family_id,
            name=data.name,
            timezone=data.timezone,
            display_name=display_name[:100],
            member_id=data.my_member_id,
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
        page, next_cursor = await families_repo.list_my_families(
            self.session, self.actor, cursor=cursor, limit=limit
        )
        return [FamilyView(family, membership) for family, membership in page], next_cursor

    async def get(self, family_id: uuid.UUID) -> FamilyView:
        view = await self._find(family_id)
        if view is None:
            raise FamilyNotFound()
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
            old_timezone = await families_repo.family_timezone(self.session, family_id)
        # With nothing to change, this still checks the precondition and bumps nothing.
        family = await families_repo.update_family(
            self.session, family_id, values, expected_version=expected
        )
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
        await families_repo.delete_family(self.session, family_id)

    async def _find(self, family_id: uuid.UUID) -> FamilyView | None:
        found = await families_repo.find_my_family(self.session, self.actor, family_id)
        return FamilyView(found.family, found.membership) if found else None
