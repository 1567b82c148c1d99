"""Members of a family: logins and managed profiles, their roles, leaving and removal.
The rules live here; the statements in `app.repositories.families`."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.domain.actor import Actor
from app.models import FamilyMember
from app.models.enums import MemberRole
from app.repositories import families as families_repo
from app.schemas.family import MemberCreate, MemberUpdate
from app.services.families import IdConflict
from app.services.quotas import Quotas
from app.services.scope import require_membership


class MemberNotFound(NotFound):
    code = "member_not_found"
    title = "Member not found"


class OwnerRequired(Forbidden):
    code = "owner_required"
    title = "Owner required"


class LastOwner(Conflict):
    code = "last_owner"
    title = "Last owner"


class ManagedProfileRole(Unprocessable):
    code = "managed_profile_role"
    title = "Managed profiles are members"


class MemberService:
    def __init__(
        self, session: AsyncSession, actor: Actor, *, quotas: Quotas | None = None
    ) -> None:
        self.session = session
        self.actor = actor
        self.quotas = quotas

    async def list(
        self, family_id: uuid.UUID, *, cursor: str | None, limit: int
    ) -> tuple[list[FamilyMember], str | None]:
        await require_membership(self.session, self.actor, family_id)
        return await families_repo.list_members(self.session, family_id, cursor=cursor, limit=limit)

    async def create_managed(
        self, family_id: uuid.UUID, data: MemberCreate
    ) -> tuple[FamilyMember, bool]:
        """A profile without a login (a young child), managed by the family's admins."""
        await require_membership(self.session, self.actor, family_id, at_least=MemberRole.ADMIN)
        if data.id is not None and (existing := await self._retried(data.id, family_id, data)):
            return existing, False
        if self.quotas is not None:
            await self.quotas.ensure_another_managed_profile(self.session, family_id)
        member = FamilyMember(
            id=data.id or uuid.uuid4(),
            family_id=family_id,
            display_name=data.display_name,
            role=MemberRole.MEMBER,
        )
        if not await families_repo.insert_member(self.session, member):
            # Maybe this very create, retried while the first attempt was in flight.
            if data.id is not None and (existing := await self._retried(data.id, family_id, data)):
                return existing, False
            raise IdConflict("This id is already used by another resource.")
        return member, True

    async def _retried(
        self, member_id: uuid.UUID, family_id: uuid.UUID, data: MemberCreate
    ) -> FamilyMember | None:
        """The profile with this id when `data` repeats its create; None when none is visible;
        IdConflict when it exists with different content."""
        existing = await families_repo.find_member_by_id(self.session, member_id)
        if existing is None:
            return None
        if (existing.family_id, existing.display_name, existing.user_id) != (
            family_id,
            data.display_name,
            None,
        ):
            raise IdConflict("A member with this id exists with different content.")
        return existing

    async def update(
        self, family_id: uuid.UUID, member_id: uuid.UUID, changes: MemberUpdate
    ) -> FamilyMember:
        mine = await require_membership(
            self.session, self.actor, family_id, at_least=MemberRole.ADMIN, lock_family=True
        )
        target = await self._get(family_id, member_id)
        if changes.role is not None and changes.role != target.role:
            touches_owner = MemberRole.OWNER in (changes.role, target.role)
            if touches_owner and mine.role != MemberRole.OWNER:
                raise OwnerRequired("Only an owner can grant or remove the owner role.")
            if target.user_id is None and changes.role != MemberRole.MEMBER:
                raise ManagedProfileRole("A managed profile has no login, so it stays a member.")
            if target.role == MemberRole.OWNER:
                await self._ensure_another_owner(family_id)
            target.role = changes.role
        if changes.display_name is not None:
            target.display_name = changes.display_name
        await self.session.flush()
        await self.session.refresh(target)
        return target

    async def remove(self, family_id: uuid.UUID, member_id: uuid.UUID) -> None:
        """An admin removes a member (with their habits and check-ins), or a member leaves
        (removes themselves). A login bound to a managed profile leaves the profile behind,
        managed again, with its history."""
        # The invitations first, then the family: the order a concurrent accept takes them.
        await families_repo.lock_invitations_of_member(self.session, family_id, member_id)
        mine = await require_membership(self.session, self.actor, family_id, lock_family=True)
        target = await self._get(family_id, member_id)
        leaving = target.id == mine.id
        if not leaving:
            if not mine.role.at_least(MemberRole.ADMIN):
                raise Forbidden("Only admins remove other members.", code="insufficient_role")
            if target.role == MemberRole.OWNER and mine.role != MemberRole.OWNER:
                raise OwnerRequired("Only an owner can remove an owner.")
        if target.role == MemberRole.OWNER:
            await self._ensure_another_owner(family_id)
        if leaving and target.from_managed_profile:
            # The child's login leaves; the child's profile and history stay in the family.
            await families_repo.leave_managed_profile(self.session, target)
            return
        await families_repo.delete_member(self.session, target.id)

    async def _get(self, family_id: uuid.UUID, member_id: uuid.UUID) -> FamilyMember:
        member = await families_repo.find_member(self.session, family_id, member_id)
        if member is None:
            raise MemberNotFound("No member with this id in the family.")
        return member

    async def _ensure_another_owner(self, family_id: uuid.UUID) -> None:
        if await families_repo.count_owners(self.session, family_id) <= 1:
            raise LastOwner(
                "A family always has an owner: make another member owner first, "
                "or delete the family."
            )
