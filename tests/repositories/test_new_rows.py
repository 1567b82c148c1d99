"""Inserting rows with client-chosen ids: all or none, False for a taken id (one RLS hides
from the caller too), and the caller's transaction goes on."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.config import Settings
from app.models import FamilyMember
from app.models.enums import MemberRole
from app.repositories.new_rows import insert_new
from tests.support.acting_session import acting_session
from tests.support.builders import add_member, create_family, create_person


def _member(family_id: uuid.UUID, name: str, member_id: uuid.UUID | None = None) -> FamilyMember:
    return FamilyMember(
        id=member_id or uuid.uuid4(), family_id=family_id, display_name=name, role=MemberRole.MEMBER
    )


async def test_a_taken_id_inserts_none_of_the_rows_and_the_transaction_goes_on(
    connection: AsyncConnection, settings: Settings
) -> None:
    parent = await create_person(connection, "parent")
    stranger = await create_person(connection, "stranger")
    family_id = await create_family(connection, parent)
    # A member of a family the parent is not in: RLS hides it from them, its id is taken.
    hidden = await add_member(connection, await create_family(connection, stranger), None)

    async with acting_session(connection, settings, parent) as (session, _):
        first = _member(family_id, "First")
        assert not await insert_new(session, first, _member(family_id, "Clash", hidden))
        later = _member(family_id, "Later")
        assert await insert_new(session, later)

    names = set(
        await connection.scalars(
            text("select display_name from family_members where family_id = :f"),
            {"f": family_id},
        )
    )
    assert "First" not in names  # all or none: the row before the clash went too
    assert "Later" in names
