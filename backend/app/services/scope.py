"""Whether the actor may see or act on a family, answered as the API answers it.

Every family-owned read or write starts here (the query side lives in
`app.repositories.tenancy`). Postgres RLS checks the same rules again, so a
mistake in a service still leaks nothing; this layer exists to answer with the right status
(404 for outsiders, exactly as for a family that does not exist; 403 for a missing role)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Forbidden, NotFound
from app.domain.actor import Actor
from app.models import FamilyMember
from app.models.enums import MemberRole
from app.repositories.tenancy import find_membership


class FamilyNotFound(NotFound):
    """The family does not exist or the caller is not in it: the answer is the same, so
    that a family's existence is not revealed to outsiders."""

    code = "family_not_found"
    title = "Family not found"

    def __init__(self) -> None:
        super().__init__("No family with this id is visible to you.")


class InsufficientRole(Forbidden):
    code = "insufficient_role"
    title = "Insufficient role"


async def require_membership(
    session: AsyncSession,
    actor: Actor,
    family_id: uuid.UUID,
    *,
    at_least: MemberRole = MemberRole.MEMBER,
    lock_family: bool = False,
) -> FamilyMember:
    """The actor's membership in the family, or NotFound / Forbidden.

    `lock_family` takes the family row's lock first, for changes that must see every
    concurrent change to the family's members (the last-owner rule)."""
    membership = await find_membership(session, actor, family_id, lock_family=lock_family)
    if membership is None:
        raise FamilyNotFound()
    ensure_role(membership, at_least)
    return membership


def ensure_role(membership: FamilyMember, at_least: MemberRole) -> None:
    if not membership.role.at_least(at_least):
        raise InsufficientRole(f"This needs the {at_least.value} role or higher in the family.")


def may_manage(role: MemberRole, member_id: uuid.UUID, assignee_id: uuid.UUID) -> bool:
    """What is assigned to a member (a habit, a routine, an import into their habits): admins
    manage it for everyone in the family, a member their own."""
    return role.at_least(MemberRole.ADMIN) or member_id == assignee_id
