"""Users: the statements on a login's own profile (`public.users`) and what deleting it
takes with it. The service (`app.services.users`) holds the rules (sole owner, provisioning)
and the session's unit of work (attribute changes, flush)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.actor import Actor
from app.models import Family, FamilyMember, Invitation, User
from app.models.enums import MemberRole
from app.repositories.tenancy import memberships_of


class MembershipHeadcount(NamedTuple):
    """One of the actor's families: the actor's role there, how many members and owners."""

    family_id: uuid.UUID
    role: MemberRole
    members: int
    owners: int


async def find_user(
    session: AsyncSession, user_id: uuid.UUID, *, reload: bool = False
) -> User | None:
    """The profile (from the session's identity map unless `reload`)."""
    return await session.get(User, user_id, populate_existing=reload)


async def insert_user_if_absent(
    session: AsyncSession, user_id: uuid.UUID, *, email: str | None, full_name: str | None
) -> None:
    """Create the profile unless it exists (a concurrent first request may have made it)."""
    await session.execute(
        insert(User)
        .values(id=user_id, email=email, full_name=full_name)
        .on_conflict_do_nothing(index_elements=[User.id])
    )


async def headcounts_of_my_families(
    session: AsyncSession, actor: Actor
) -> list[MembershipHeadcount]:
    """Each family the actor is in, with the actor's role and the family's member and owner
    counts (one statement)."""
    mine = memberships_of(actor).subquery()
    member_counts = (
        select(
            FamilyMember.family_id,
            func.count().label("members"),
            func.count().filter(FamilyMember.role == MemberRole.OWNER).label("owners"),
        )
        .where(FamilyMember.family_id.in_(select(mine.c.family_id)))
        .group_by(FamilyMember.family_id)
        .subquery()
    )
    query = select(
        mine.c.family_id, mine.c.role, member_counts.c.members, member_counts.c.owners
    ).join(member_counts, member_counts.c.family_id == mine.c.family_id)
    return [MembershipHeadcount(*row) for row in await session.execute(query)]


async def lock_what_my_deletion_touches(session: AsyncSession, actor: Actor) -> None:
    """Lock, before deleting the actor's login, what the family routes lock before they
    change members: first the invitations the deletion changes (bound to one of the actor's
    memberships, or sent by the actor), then the families the actor owns (whose last-owner
    check locks the family row at COMMIT). Taken the other way round, behind the cascade,
    the deletion deadlocks with a parent removing this member or deleting the family."""
    mine = memberships_of(actor).subquery()
    await session.execute(
        select(Invitation.id)
        .where(
            or_(
                Invitation.member_id.in_(select(mine.c.id)),
                Invitation.created_by == actor.user_id,
            )
        )
        .order_by(Invitation.id)
        .with_for_update()
    )
    owned = select(mine.c.family_id).where(mine.c.role == MemberRole.OWNER)
    await session.execute(
        select(Family.id).where(Family.id.in_(owned)).order_by(Family.id).with_for_update()
    )


async def delete_families(session: AsyncSession, family_ids: Sequence[uuid.UUID]) -> None:
    await session.execute(delete(Family).where(Family.id.in_(family_ids)))


async def delete_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """The profile; its memberships go with it (foreign keys cascade)."""
    await session.execute(delete(User).where(User.id == user_id))
