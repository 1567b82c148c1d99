"""Members of a family: logins and managed profiles, their roles, leaving and removal."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.domain.actor import Actor
from app.models import FamilyMember, Invitation
from app.models.enums import MemberRole
from app.schemas.family import MemberCreate, MemberUpdate
from app.services.families import IdConflict
from app.services.pagination import page_of, paginate
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
        query = paginate(
            select(FamilyMember).where(FamilyMember.family_id == family_id),
            created_at=FamilyMember.created_at,
            row_id=FamilyMember.id,
            cursor=cursor,
            limit=limit,
        )
        rows = (await self.session.scalars(query)).all()
        return page_of(rows, limit, key=lambda member: (member.created_at, member.id))

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
        try:
            # A savepoint, because the id may belong to a row RLS hides from us (another
            # family's): the insert then fails, and only the savepoint is rolled back.
            async with self.session.begin_nested():
                self.session.add(member)
        except IntegrityError:
            # Maybe this very create, retried while the first attempt was in flight.
            if data.id is not None and (existing := await self._retried(data.id, family_id, data)):
                return existing, False
            raise IdConflict("This id is already used by another resource.") from None
        await self.session.refresh(member)
        return member, True

    async def _retried(
        self, member_id: uuid.UUID, family_id: uuid.UUID, data: MemberCreate
    ) -> FamilyMember | None:
        """The profile with this id when `data` repeats its create; None when none is visible;
        IdConflict when it exists with different content."""
        existing = await self.session.get(FamilyMember, member_id)
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
        # The delete cascades to invitations bound to this profile. Accepting one locks the
        # invitation, then the family; lock them in that order too, or the two deadlock.
        await self.session.execute(
            select(Invitation.id)
            .where(Invitation.family_id == family_id, Invitation.member_id == member_id)
            .with_for_update()
        )
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
            await self.session.execute(select(func.public.leave_managed_profile(target.id)))
            self.session.expunge(target)  # no longer visible to the caller: not refreshable
            return
        await self.session.execute(delete(FamilyMember).where(FamilyMember.id == target.id))

    async def _get(self, family_id: uuid.UUID, member_id: uuid.UUID) -> FamilyMember:
        member = await self.session.scalar(
            select(FamilyMember).where(
                FamilyMember.id == member_id, FamilyMember.family_id == family_id
            )
        )
        if member is None:
            raise MemberNotFound("No member with this id in the family.")
        return member

    async def _ensure_another_owner(self, family_id: uuid.UUID) -> None:
        owners = await self.session.scalar(
            select(func.count()).where(
                FamilyMember.family_id == family_id, FamilyMember.role == MemberRole.OWNER
            )
        )
        if (owners or 0) <= 1:
            raise LastOwner(
                "A family always has an owner: make another member owner first, "
                "or delete the family."
            )
