"""Invitations: a secret token (stored only as its hash) that lets a login join a family.
The rules live here; the statements in `app.repositories.invitations`."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, Forbidden, Gone, NotFound
from app.domain.actor import Actor
from app.models import FamilyMember, Invitation
from app.models.enums import MemberRole
from app.repositories import families as families_repo
from app.repositories import invitations as invitations_repo
from app.schemas.invitation import InvitationCreate
from app.services.families import FamilyService, FamilyView, IdConflict
from app.services.members import MemberNotFound, OwnerRequired
from app.services.quotas import Quotas
from app.services.scope import require_membership
from app.services.users import UserService

TOKEN_PREFIX = "lpi_"  # noqa: S105 - not a secret: recognisable in logs and by secret scanners


class InvitationNotFound(NotFound):
    code = "invitation_not_found"
    title = "Invitation not found"


class InvitationGone(Gone):
    title = "Invitation no longer valid"


class MemberNotManaged(Conflict):
    code = "member_not_managed"
    title = "Profile already has a login"


class InvitationEmailMismatch(Forbidden):
    code = "invitation_email_mismatch"
    title = "Invitation is for another email"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 bits from the OS CSPRNG


def hash_token(token: str) -> str:
    # The token has 256 bits of entropy, so a plain SHA-256 is enough (no slow KDF needed).
    return hashlib.sha256(token.encode()).hexdigest()


_GONE = {
    "expired": ("invitation_expired", "This invitation has expired."),
    "revoked": ("invitation_revoked", "This invitation was revoked."),
    "used": ("invitation_used", "This invitation has been used up."),
}


class InvitationService:
    def __init__(
        self, session: AsyncSession, actor: Actor, *, quotas: Quotas | None = None
    ) -> None:
        self.session = session
        self.actor = actor
        self.quotas = quotas

    async def create(
        self, family_id: uuid.UUID, data: InvitationCreate
    ) -> tuple[Invitation, str | None]:
        """`(invitation, token)`; the token is None when a retried create returns the
        invitation made before (its token was shown once and is not stored)."""
        mine = await require_membership(
            self.session, self.actor, family_id, at_least=MemberRole.ADMIN
        )
        if data.role == MemberRole.OWNER and mine.role != MemberRole.OWNER:
            raise OwnerRequired("Only an owner can invite an owner.")
        if data.id is not None and (existing := await self._retried(data.id, family_id, data)):
            return existing, None
        if data.member_id is not None:
            await self._ensure_managed_profile(family_id, data.member_id)
        if self.quotas is not None:
            await self.quotas.ensure_another_invitation(self.session, family_id)
        token = new_token()
        invitation = Invitation(
            id=data.id or uuid.uuid4(),
            family_id=family_id,
            token_hash=hash_token(token),
            role=data.role,
            email=data.email,
            member_id=data.member_id,
            max_uses=data.max_uses,
            expires_at=func.now() + timedelta(hours=data.expires_in_hours),
            created_by=self.actor.user_id,
        )
        if not await invitations_repo.insert_invitation(self.session, invitation):
            # Maybe this very create, retried while the first attempt was in flight.
            if data.id is not None and (existing := await self._retried(data.id, family_id, data)):
                return existing, None
            raise IdConflict("This id is already used by another resource.")
        return invitation, token

    async def _retried(
        self, invitation_id: uuid.UUID, family_id: uuid.UUID, data: InvitationCreate
    ) -> Invitation | None:
        """The invitation with this id when `data` repeats its create; None when none is
        visible; IdConflict when it exists with different content."""
        existing = await invitations_repo.find_invitation(self.session, invitation_id)
        if existing is None:
            return None
        if not self._same(existing, family_id, data):
            raise IdConflict("An invitation with this id exists with different content.")
        return existing

    async def list_pending(
        self, family_id: uuid.UUID, *, cursor: str | None, limit: int
    ) -> tuple[list[Invitation], str | None]:
        await require_membership(self.session, self.actor, family_id, at_least=MemberRole.ADMIN)
        return await invitations_repo.list_pending(
            self.session, family_id, cursor=cursor, limit=limit
        )

    async def revoke(self, family_id: uuid.UUID, invitation_id: uuid.UUID) -> None:
        mine = await require_membership(
            self.session, self.actor, family_id, at_least=MemberRole.ADMIN
        )
        role = await invitations_repo.invitation_role(self.session, family_id, invitation_id)
        if role is None:
            raise InvitationNotFound("No invitation with this id in the family.")
        # Owners alone hand out ownership, so owners alone take an owner's invitation back
        # (the `invitations_admin` policy holds the same rule).
        if role == MemberRole.OWNER and mine.role != MemberRole.OWNER:
            raise OwnerRequired("Only an owner can revoke an invitation to become an owner.")
        await invitations_repo.revoke(self.session, invitation_id)

    async def accept(self, token: str) -> tuple[FamilyView, FamilyMember]:
        await UserService(self.session, self.actor).provision()
        outcome, family_id, member_id = await invitations_repo.accept(
            self.session, hash_token(token)
        )
        if outcome == "not_found":
            raise InvitationNotFound("No invitation matches this token.")
        if outcome == "email_mismatch":
            raise InvitationEmailMismatch("This invitation was sent to another email address.")
        if outcome in _GONE:
            code, detail = _GONE[outcome]
            raise InvitationGone(detail, code=code)
        if outcome == "accepted" and self.quotas is not None:
            await self.quotas.ensure_families_within(self.session, self.actor)
        assert family_id is not None  # accepted, or already a member
        view = await FamilyService(self.session, self.actor).get(family_id)
        assert view.membership.id == member_id
        return view, view.membership

    async def _ensure_managed_profile(self, family_id: uuid.UUID, member_id: uuid.UUID) -> None:
        member = await families_repo.find_member(self.session, family_id, member_id)
        if member is None:
            raise MemberNotFound("No member with this id in the family.")
        if member.user_id is not None:
            raise MemberNotManaged("This profile already has a login; invite without member_id.")

    @staticmethod
    def _same(existing: Invitation, family_id: uuid.UUID, data: InvitationCreate) -> bool:
        return (
            existing.family_id == family_id
            and existing.role == data.role
            and existing.email == data.email
            and existing.member_id == data.member_id
            and existing.max_uses == data.max_uses
        )
