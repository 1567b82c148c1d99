"""Routines repository: what the caller sees of a routine, its versions in order, the
current one of each, and which habits a routine may hold."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.config import Settings
from app.models.enums import MemberRole
from app.repositories import routines as routines_repo
from tests.support.acting_session import acting_session
from tests.support.builders import add_member, create_family, create_person
from tests.support.habits import create_habit, create_routine


async def _add_version(connection: AsyncConnection, routine_id: object, number: int) -> None:
    await connection.execute(
        text(
            "insert into routine_versions (routine_id, family_id, number, effective_from,"
            " habit_ids) select id, family_id, :number, :day, '{}' from routines where id = :id"
        ),
        {"id": routine_id, "number": number, "day": date(2026, 1, number)},
    )
    await connection.execute(
        text("update routines set current_version = :number where id = :id"),
        {"id": routine_id, "number": number},
    )


async def test_a_visible_routine_comes_with_its_assignee_and_my_membership(
    connection: AsyncConnection, settings: Settings
) -> None:
    owner = await create_person(connection, "owner")
    member = await create_person(connection, "member")
    outsider = await create_person(connection, "outsider")
    family_id = await create_family(connection, owner, timezone="Europe/Paris")
    mine = await add_member(connection, family_id, member, MemberRole.MEMBER)
    kid = await add_member(connection, family_id, None, display_name="Kid")
    routine_id = await create_routine(connection, family_id, kid, [])
    deleted = await create_routine(connection, family_id, kid, [], name="Old")
    await connection.execute(
        text("update routines set deleted_at = now() where id = :id"), {"id": deleted}
    )

    async with acting_session(connection, settings, member) as (session, actor):
        found = await routines_repo.find_visible(session, actor, routine_id)
        assert await routines_repo.find_visible(session, actor, deleted) is None
        assert await routines_repo.find_routine(session, deleted) is not None
    async with acting_session(connection, settings, outsider) as (session, actor):
        assert await routines_repo.find_visible(session, actor, routine_id) is None
        assert await routines_repo.find_routine(session, routine_id) is None

    assert found is not None
    assert found.routine.id == routine_id
    assert (found.assignee.id, found.profile) == (kid, None)  # a managed profile
    assert found.family.timezone == "Europe/Paris"
    assert (found.mine.id, found.mine.role) == (mine, MemberRole.MEMBER)


async def test_versions_in_order_and_the_current_one_of_each_routine(
    connection: AsyncConnection, settings: Settings
) -> None:
    owner = await create_person(connection, "owner")
    family_id = await create_family(connection, owner)
    kid = await add_member(connection, family_id, None)
    changed = await create_routine(connection, family_id, kid, [])
    for number in (2, 3):
        await _add_version(connection, changed, number)
    unchanged = await create_routine(connection, family_id, kid, [], name="Evening")

    async with acting_session(connection, settings, owner) as (session, _):
        routines, _ = await routines_repo.list_live(session, family_id, cursor=None, limit=10)
        current = await routines_repo.current_versions(session, routines)
        history = await routines_repo.versions_of(session, changed)
        assert await routines_repo.last_version_number(session, changed) == 3
        assert await routines_repo.last_version_number(session, unchanged) == 1
        second = await routines_repo.find_version(session, changed, 2)
        assert await routines_repo.find_version(session, changed, 4) is None
        assert await routines_repo.current_versions(session, []) == {}

    assert {routine.id for routine in routines} == {changed, unchanged}
    assert {routine_id: v.number for routine_id, v in current.items()} == {
        changed: 3,
        unchanged: 1,
    }
    assert [version.number for version in history] == [1, 2, 3]
    assert second is not None
    assert second.effective_from == date(2026, 1, 2)


async def test_usable_habits_are_the_live_ones_of_that_family_and_assignee(
    connection: AsyncConnection, settings: Settings
) -> None:
    owner = await create_person(connection, "owner")
    family_id = await create_family(connection, owner)
    other_family = await create_family(connection, owner, name="Other")
    kid = await add_member(connection, family_id, None)
    sibling = await add_member(connection, family_id, None)
    cousin = await add_member(connection, other_family, None)
    usable = await create_habit(connection, family_id, kid, name="Read")
    gone = await create_habit(connection, family_id, kid, name="Gone")
    await connection.execute(
        text("update habits set deleted_at = now() where id = :id"), {"id": gone}
    )
    siblings = await create_habit(connection, family_id, sibling)
    cousins = await create_habit(connection, other_family, cousin)

    async with acting_session(connection, settings, owner) as (session, _):
        found = await routines_repo.usable_habit_ids(
            session, family_id, kid, [usable, gone, siblings, cousins]
        )

    assert found == {usable}
