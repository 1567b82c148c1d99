"""Users repository: provisioning a profile once, and the headcounts deleting one needs."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.config import Settings
from app.models.enums import MemberRole
from app.repositories import users as users_repo
from tests.support.acting_session import acting_session
from tests.support.builders import add_member, create_family, create_person
from tests.support.tenancy import scalar


async def test_a_profile_is_inserted_once_and_a_second_insert_keeps_the_first(
    connection: AsyncConnection, settings: Settings
) -> None:
    newcomer = await create_person(connection, "newcomer", provisioned=False)

    async with acting_session(connection, settings, newcomer) as (session, _):
        assert await users_repo.find_user(session, newcomer.user_id) is None
        await users_repo.insert_user_if_absent(
            session, newcomer.user_id, email=newcomer.email, full_name="First"
        )
        await users_repo.insert_user_if_absent(
            session, newcomer.user_id, email=newcomer.email, full_name="Second"
        )
        user = await users_repo.find_user(session, newcomer.user_id, reload=True)

    assert user is not None
    assert user.full_name == "First"


async def test_headcounts_cover_my_families_only_with_my_role_and_the_owners(
    connection: AsyncConnection, settings: Settings
) -> None:
    me = await create_person(connection, "me")
    other = await create_person(connection, "other")
    alone = await create_family(connection, me, name="Alone")
    shared = await create_family(connection, me, name="Shared")
    await add_member(connection, shared, other, MemberRole.OWNER)
    await add_member(connection, shared, None)
    member_of = await create_family(connection, other, name="Theirs")
    await add_member(connection, member_of, me)
    await create_family(connection, other, name="Not mine")

    async with acting_session(connection, settings, me) as (session, actor):
        counts = {
            row.family_id: row for row in await users_repo.headcounts_of_my_families(session, actor)
        }

    assert set(counts) == {alone, shared, member_of}
    assert counts[alone][1:] == (MemberRole.OWNER, 1, 1)
    assert counts[shared][1:] == (MemberRole.OWNER, 3, 2)
    assert counts[member_of][1:] == (MemberRole.MEMBER, 2, 1)


async def test_deleting_a_profile_takes_its_memberships_and_only_the_named_families(
    connection: AsyncConnection, settings: Settings
) -> None:
    me = await create_person(connection, "me")
    other = await create_person(connection, "other")
    alone = await create_family(connection, me, name="Alone")
    shared = await create_family(connection, other, name="Shared")
    await add_member(connection, shared, me)

    async with acting_session(connection, settings, me) as (session, _):
        await users_repo.delete_families(session, [alone])
        await users_repo.delete_user(session, me.user_id)

    assert await scalar(connection, "select count(*) from families where id = :id", id=alone) == 0
    assert (
        await scalar(
            connection, "select count(*) from family_members where family_id = :id", id=shared
        )
        == 1
    )
    assert await scalar(connection, "select count(*) from users where id = :id", id=me.user_id) == 0
