"""Invitations: the statements on `invitations`, and accepting one
(`public.accept_invitation`). Tokens reach this module only as their hash. The service holds
the rules (roles, retried creates, what each outcome of an accept means to the caller)."""

from __future__ import annotations

import uuid
from typing import NamedTuple

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Invitation
from app.models.enums import MemberRole
from app.repositories.new_rows import insert_new
from app.repositories.pagination import page_of_rows


class Acceptance(NamedTuple):
    """What `public.accept_invitation` did: `outcome` is accepted, already_member,
    not_found, email_mismatch, expired, revoked or used; the ids are set when it joined."""

    outcome: str
    family_id: uuid.UUID | None
    member_id: uuid.UUID | None


def pending() -> ColumnElement[bool]:
    """Not revoked, not expired, not used up."""
    return (
        Invitation.revoked_at.is_(None)
        & (Invitation.expires_at > func.now())
        & (Invitation.use_count < Invitation.max_uses)
    )


async def insert_invitation(session: AsyncSession, invitation: Invitation) -> bool:
    """Insert the new invitation (loaded back with its defaults); False when its id is
    taken."""
    if not await insert_new(session, invitation):
        return False
    await session.refresh(invitation)
    return True


async def find_invitation(session: AsyncSession, invitation_id: uuid.UUID) -> Invitation | None:
    """The invitation with this id, if the session may see it (admins of its family)."""
    return await session.get(Invitation, invitation_id)


async def list_pending(
    session: AsyncSession, family_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[list[Invitation], str | None]:
    """A page of the family's pending invitations, oldest first, and the next cursor."""
    query = select(Invitation).where(Invitation.family_id == family_id, pending())
    return await page_of_rows(session, query, Invitation, cursor=cursor, limit=limit)


async def invitation_role(
    session: AsyncSession, family_id: uuid.UUID, invitation_id: uuid.UUID
) -> MemberRole | None:
    """The role the invitation grants; None when the family has no such invitation."""
    role: MemberRole | None = await session.scalar(
        select(Invitation.role).where(
            Invitation.id == invitation_id, Invitation.family_id == family_id
        )
    )
    return role


async def revoke(session: AsyncSession, invitation_id: uuid.UUID) -> None:
    """Mark it revoked (a second revoke keeps the first time)."""
    await session.execute(
        update(Invitation)
        .where(Invitation.id == invitation_id)
        .values(revoked_at=func.coalesce(Invitation.revoked_at, func.now()))
    )


async def accept(session: AsyncSession, token_hash: str) -> Acceptance:
    """Accept the invitation with this token hash for the session's user, in one statement
    that locks the invitation, then the family."""
    row = (
        await session.execute(
            select(
                func.public.accept_invitation(token_hash).table_valued(
                    "outcome", "family_id", "member_id"
                )
            )
        )
    ).one()
    return Acceptance(*row)
