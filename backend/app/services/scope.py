"""The one place that decides whether the actor may see or act on a family.

Every family-owned read or write starts here. Postgres RLS checks the same rules again, so a
mistake in a service still leaks nothing; this layer exists to answer with the right status
(404 for outsiders, exactly as for a family that does not exist; 403 for a missing role)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from app.core.errors import Forbidden, NotFound
from app.models import Family, FamilyMember
from app.models.enums import MemberRole
from app.services.actor import Actor


class FamilyNotFound(NotFound):
    code = "family_not_found"
    title = "Family not found"


class InsufficientRole(Forbidden):
    code = "insufficient_role"
    title = "Insufficient role"


def memberships_of(actor: Actor) -> Select[tuple[FamilyMember]]:
    """The actor's own memberships, to join family-owned queries against."""
    return select(FamilyMember).where(FamilyMember.user_id == actor.user_id)


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
    if lock_family:
        await session.execute(select(Family.id).where(Family.id == family_id).with_for_update())
    membership = await session.scalar(
        memberships_of(actor).where(FamilyMember.family_id == family_id)
    )
    if membership is None:
        raise FamilyNotFound("No family with this id is visible to you.")
    ensure_role(membership, at_least)
    return membership


def families_of(actor: Actor) -> Select[tuple[Family, FamilyMember]]:
    """The families the actor belongs to, each with the actor's membership."""
    return select(Family, FamilyMember).join(
        FamilyMember,
        (FamilyMember.family_id == Family.id) & (FamilyMember.user_id == actor.user_id),
    )


def ensure_role(membership: FamilyMember, at_least: MemberRole) -> None:
    if not membership.role.at_least(at_least):
        raise InsufficientRole(f"This needs the {at_least.value} role or higher in the family.")


# Built once: constructing an alias costs more than the query it joins into.
MY_MEMBERSHIP = aliased(FamilyMember, name="my_membership")


def with_my_membership(
    query: Select[Any], actor: Actor, family_id: InstrumentedAttribute[uuid.UUID]
) -> tuple[Select[Any], type[FamilyMember]]:
    """Join the actor's membership in the family of the rows `query` selects: rows of families
    the actor is not in drop out. Returns the query and the membership alias to select."""
    mine = MY_MEMBERSHIP
    joined = query.join(
        mine, (mine.family_id == family_id) & (mine.user_id == actor.user_id)
    ).add_columns(mine)
    return joined, mine
