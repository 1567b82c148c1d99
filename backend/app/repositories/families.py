"""Families and their members: the statements on `families` and `family_members` (the
caller's own membership is found through `app.repositories.tenancy`). Functions return model
instances or None; the services (`families`, `members`) hold the rules (roles, the last
owner, retried creates) and raise. What a service changes on a loaded member (role, name) is
its own unit of work (`flush`); inserting a new row goes through here."""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.actor import Actor
from app.models import Family, FamilyMember, Invitation
from app.models.enums import MemberRole
from app.repositories.new_rows import insert_new
from app.repositories.pagination import page_of, page_of_rows, paginate
from app.repositories.tenancy import families_of


class MyFamily(NamedTuple):
    """A family with the caller's membership in it."""

    family: Family
    membership: FamilyMember


# --- families ---------------------------------------------------------------------------


async def create_family(
    session: AsyncSession,
    family_id: uuid.UUID,
    *,
    name: str,
    timezone: str,
    display_name: str,
    member_id: uuid.UUID | None,
) -> uuid.UUID | None:
    """The family with the session's user as its owner (`public.create_family`, which may
    insert what RLS would not let the caller insert yet); None when the id is taken."""
    created: uuid.UUID | None = await session.scalar(
        select(func.public.create_family(family_id, name, timezone, display_name, member_id))
    )
    return created


async def find_my_family(
    session: AsyncSession, actor: Actor, family_id: uuid.UUID
) -> MyFamily | None:
    """The family with the actor's membership; None for a family the actor is not in."""
    row = (await session.execute(families_of(actor).where(Family.id == family_id))).first()
    return MyFamily(row[0], row[1]) if row else None


async def list_my_families(
    session: AsyncSession, actor: Actor, *, cursor: str | None, limit: int
) -> tuple[list[MyFamily], str | None]:
    """A page of the actor's families, oldest first, and the next page's cursor."""
    query = paginate(
        families_of(actor),
        created_at=Family.created_at,
        row_id=Family.id,
        cursor=cursor,
        limit=limit,
    )
    rows = [MyFamily(family, mine) for family, mine in await session.execute(query)]
    return page_of(rows, limit, key=lambda row: (row.family.created_at, row.family.id))


async def family_timezone(session: AsyncSession, family_id: uuid.UUID) -> str | None:
    timezone: str | None = await session.scalar(
        select(Family.timezone).where(Family.id == family_id)
    )
    return timezone


async def update_family(
    session: AsyncSession,
    family_id: uuid.UUID,
    values: dict[str, Any],
    *,
    expected_version: int | None,
) -> Family | None:
    """Apply `values` and bump the version; with no values, only check the version. None when
    `expected_version` is not the family's (or the family is not visible)."""
    statement = update(Family).where(Family.id == family_id).returning(Family)
    if expected_version is not None:
        statement = statement.where(Family.version == expected_version)
    if values:
        statement = statement.values(**values, version=Family.version + 1, updated_at=func.now())
    else:
        statement = statement.values(version=Family.version)
    result = await session.execute(statement, execution_options={"populate_existing": True})
    family: Family | None = result.scalar_one_or_none()
    return family


async def delete_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    """The family and all it holds (foreign keys cascade)."""
    # Accepting an invitation locks the invitation, then the family (the new member's
    # foreign key); the cascade would take them the other way round and deadlock with a
    # concurrent accept. Take the invitations first, like accept does.
    await session.execute(
        select(Invitation.id).where(Invitation.family_id == family_id).with_for_update()
    )
    await session.execute(delete(Family).where(Family.id == family_id))


# --- members ----------------------------------------------------------------------------


async def list_members(
    session: AsyncSession, family_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[list[FamilyMember], str | None]:
    """A page of the family's members in the order they joined, and the next cursor."""
    query = select(FamilyMember).where(FamilyMember.family_id == family_id)
    return await page_of_rows(session, query, FamilyMember, cursor=cursor, limit=limit)


async def find_member(
    session: AsyncSession, family_id: uuid.UUID, member_id: uuid.UUID
) -> FamilyMember | None:
    """The member of this family; None for another family's member or an unknown id."""
    member: FamilyMember | None = await session.scalar(
        select(FamilyMember).where(
            FamilyMember.id == member_id, FamilyMember.family_id == family_id
        )
    )
    return member


async def find_member_by_id(session: AsyncSession, member_id: uuid.UUID) -> FamilyMember | None:
    """The member with this id in any family the session can see."""
    return await session.get(FamilyMember, member_id)


async def family_of_member(session: AsyncSession, member_id: uuid.UUID) -> uuid.UUID | None:
    family_id: uuid.UUID | None = await session.scalar(
        select(FamilyMember.family_id).where(FamilyMember.id == member_id)
    )
    return family_id


async def insert_member(session: AsyncSession, member: FamilyMember) -> bool:
    """Insert the new member (loaded back with its defaults); False when its id is taken."""
    if not await insert_new(session, member):
        return False
    await session.refresh(member)
    return True


async def count_owners(session: AsyncSession, family_id: uuid.UUID) -> int:
    owners = await session.scalar(
        select(func.count()).where(
            FamilyMember.family_id == family_id, FamilyMember.role == MemberRole.OWNER
        )
    )
    return int(owners or 0)


async def lock_invitations_of_member(
    session: AsyncSession, family_id: uuid.UUID, member_id: uuid.UUID
) -> None:
    """Lock the invitations bound to this profile. Deleting the member cascades to them, and
    accepting one locks the invitation, then the family: lock them first, or the two
    deadlock."""
    await session.execute(
        select(Invitation.id)
        .where(Invitation.family_id == family_id, Invitation.member_id == member_id)
        .with_for_update()
    )


async def leave_managed_profile(session: AsyncSession, member: FamilyMember) -> None:
    """The login bound to a managed profile leaves it (`public.leave_managed_profile`): the
    profile and its history stay, managed again, and no longer visible to the caller."""
    await session.execute(select(func.public.leave_managed_profile(member.id)))
    session.expunge(member)  # no longer visible to the caller: not refreshable


async def delete_member(session: AsyncSession, member_id: uuid.UUID) -> None:
    """The member with their habits and check-ins (foreign keys cascade)."""
    await session.execute(delete(FamilyMember).where(FamilyMember.id == member_id))
