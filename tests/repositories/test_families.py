"""Families and members repository: what a caller sees of families and their members,
in which order, a page at a time."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.config import Settings
from app.models import FamilyMember
from app.models.enums import MemberRole
from app.repositories import families as families_repo
from tests.support.acting_session import acting_session
from tests.support.builders import add_member, create_family, create_person


async def test_my_families_are_those_i_belong_to_oldest_first_a_page_at_a_time(
    connection: AsyncConnection, settings: Settings
) -> None:
    me = await create_person(connection, "me")
    stranger = await create_person(connection, "stranger")
    mine = [await create_family(connection, me, name=f"Mine {n}") for n in range(3)]
    joined = await create_family(connection, stranger, name="Joined")
    await add_member(connection, joined, me, MemberRole.ADMIN)
    await create_family(connection, stranger, name="Not mine")

    async with acting_session(connection, settings, me) as (session, actor):
        first, cursor = await families_repo.list_my_families(session, actor, cursor=None, limit=3)
        assert cursor is not None
        rest, last_cursor = await families_repo.list_my_families(
            session, actor, cursor=cursor, limit=3
        )

    # One transaction: every created_at is equal, so the id breaks the tie.
    assert [row.family.id for row in first + rest] == sorted([*mine, joined])
    assert (len(first), len(rest), last_cursor) == (3, 1, None)
    roles = {row.family.id: row.membership.role for row in first + rest}
    assert roles == {**dict.fromkeys(mine, MemberRole.OWNER), joined: MemberRole.ADMIN}


async def test_another_familys_row_is_not_found_for_an_outsider(
    connection: AsyncConnection, settings: Settings
) -> None:
    owner = await create_person(connection, "owner")
    outsider = await create_person(connection, "outsider")
    family_id = await create_family(connection, owner)
    member_id = await add_member(connection, family_id, None, display_name="Kid")

    async with acting_session(connection, settings, outsider) as (session, actor):
        assert await families_repo.find_my_family(session, actor, family_id) is None
        assert await families_repo.family_timezone(session, family_id) is None
        assert await families_repo.find_member(session, family_id, member_id) is None
        assert await families_repo.find_member_by_id(session, member_id) is None
        assert await families_repo.family_of_member(session, member_id) is None
        members, _ = await families_repo.list_members(session, family_id, cursor=None, limit=10)
        assert members == []
        assert (
            await families_repo.update_family(
                session, family_id, {"name": "Taken over"}, expected_version=None
            )
            is None
        )

    async with acting_session(connection, settings, owner) as (session, actor):
        found = await families_repo.find_my_family(session, actor, family_id)
        assert found is not None
        assert found.family.name == "The Testers"
        assert found.membership.role == MemberRole.OWNER


async def test_members_in_the_order_they_joined_and_only_of_that_family(
    connection: AsyncConnection, settings: Settings
) -> None:
    owner = await create_person(connection, "owner")
    family_id = await create_family(connection, owner)
    other_family = await create_family(connection, owner, name="Other")
    kids = [
        await add_member(connection, family_id, None, display_name=f"Kid {n}") for n in range(3)
    ]
    elsewhere = await add_member(connection, other_family, None)

    async with acting_session(connection, settings, owner) as (session, _):
        first, cursor = await families_repo.list_members(session, family_id, cursor=None, limit=2)
        rest, last = await families_repo.list_members(session, family_id, cursor=cursor, limit=2)
        assert await families_repo.find_member(session, family_id, elsewhere) is None
        assert await families_repo.family_of_member(session, elsewhere) == other_family

    # One transaction: every created_at is equal, so the id breaks the tie.
    owner_member = next(m.id for m in first + rest if m.user_id == owner.user_id)
    assert [member.id for member in first + rest] == sorted([owner_member, *kids])
    assert last is None


async def test_an_update_with_a_stale_version_changes_nothing(
    connection: AsyncConnection, settings: Settings
) -> None:
    owner = await create_person(connection, "owner")
    family_id = await create_family(connection, owner)

    async with acting_session(connection, settings, owner) as (session, _):
        stale = await families_repo.update_family(
            session, family_id, {"name": "Renamed"}, expected_version=7
        )
        renamed = await families_repo.update_family(
            session, family_id, {"name": "Renamed"}, expected_version=1
        )
        checked = await families_repo.update_family(session, family_id, {}, expected_version=2)

    assert stale is None
    assert renamed is not None
    assert (renamed.name, renamed.version) == ("Renamed", 2)
    assert checked is not None
    assert checked.version == 2


async def test_owners_are_counted_per_family_and_a_taken_member_id_is_refused(
    connection: AsyncConnection, settings: Settings
) -> None:
    owner = await create_person(connection, "owner")
    co_owner = await create_person(connection, "co-owner")
    family_id = await create_family(connection, owner)
    other_family = await create_family(connection, owner, name="Other")
    await add_member(connection, family_id, co_owner, MemberRole.OWNER)
    taken = await add_member(connection, other_family, None)

    async with acting_session(connection, settings, owner) as (session, _):
        assert await families_repo.count_owners(session, family_id) == 2
        assert await families_repo.count_owners(session, other_family) == 1
        fresh = FamilyMember(
            id=uuid.uuid4(), family_id=family_id, display_name="New", role=MemberRole.MEMBER
        )
        assert await families_repo.insert_member(session, fresh)
        assert fresh.created_at is not None  # loaded back with its defaults
        clash = FamilyMember(
            id=taken, family_id=family_id, display_name="Clash", role=MemberRole.MEMBER
        )
        assert not await families_repo.insert_member(session, clash)
        # The failed insert rolled back only its savepoint: the session goes on.
        assert await families_repo.find_member(session, family_id, fresh.id) is fresh
