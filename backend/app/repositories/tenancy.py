"""Tenancy: the one module that joins a query to the caller's membership of a family.

Every family-owned read or write is scoped here, whatever the route: rows of a family the
caller is not a member of drop out of the query. Postgres RLS checks the same rule again
(`public.is_family_member`), so a mistake elsewhere still leaks nothing; what this layer adds
is the answer's status (404 for outsiders, as for what does not exist). A test
(`tests/architecture/test_tenancy_lint.py`) fails when such a join appears anywhere else.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from app.domain.actor import Actor
from app.models import Family, FamilyMember


def addressed_to(
    actor: Actor, user_id: InstrumentedAttribute[uuid.UUID | None]
) -> ColumnElement[bool]:
    """Rows addressed to the actor's login itself rather than to one of their families (the
    sync log's "you joined / left a family" rows)."""
    return user_id == actor.user_id


def memberships_of(actor: Actor) -> Select[tuple[FamilyMember]]:
    """The actor's own memberships, to join family-owned queries against."""
    return select(FamilyMember).where(FamilyMember.user_id == actor.user_id)


async def find_membership(
    session: AsyncSession, actor: Actor, family_id: uuid.UUID, *, lock_family: bool = False
) -> FamilyMember | None:
    """The actor's membership in the family, if any.

    `lock_family` takes the family row's lock first, for changes that must see every
    concurrent change to the family's members (the last-owner rule)."""
    if lock_family:
        await session.execute(select(Family.id).where(Family.id == family_id).with_for_update())
    membership: FamilyMember | None = await session.scalar(
        memberships_of(actor).where(FamilyMember.family_id == family_id)
    )
    return membership


def families_of(actor: Actor) -> Select[tuple[Family, FamilyMember]]:
    """The families the actor belongs to, each with the actor's membership."""
    return select(Family, FamilyMember).join(
        FamilyMember,
        (FamilyMember.family_id == Family.id) & (FamilyMember.user_id == actor.user_id),
    )


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


# --- The same joins as SQL text, for the repositories that speak to asyncpg directly -------
# Built into their module constants once, at import: no cost per request.


def my_membership_join(alias: str, family_id: str, user_id: str) -> str:
    """`join family_members <alias>`: the actor's membership in the family `family_id` (a
    column) belongs to, the actor given by the parameter `user_id` (`$2`). Rows of
    families the actor is not in drop out; `<alias>.id` and `<alias>.role` are theirs."""
    return (
        f"join family_members {alias}"
        f" on {alias}.family_id = {family_id} and {alias}.user_id = {user_id}"
    )


def my_member_ids(user_id: str) -> str:
    """A subquery: the ids of the actor's memberships, the actor given by the parameter
    `user_id` (`$1`)."""
    return f"select m.id from family_members m where m.user_id = {user_id}"
