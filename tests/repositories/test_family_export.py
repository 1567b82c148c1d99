"""Family export repository: a family's rows in the export's order, narrowed to one
assignee when asked, and nothing for an outsider."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.config import Settings
from app.repositories.family_export import read_family
from tests.support.acting_session import acting_session
from tests.support.builders import add_member, create_family, create_person
from tests.support.habits import (
    add_habit_version,
    create_checkin,
    create_habit,
    create_routine,
    days_ago,
)


async def test_rows_in_export_order_and_narrowed_to_one_assignee(
    connection: AsyncConnection, settings: Settings
) -> None:
    owner = await create_person(connection, "owner")
    family_id = await create_family(connection, owner, timezone="Asia/Tokyo")
    anna = await add_member(connection, family_id, None, display_name="Anna")
    ben = await add_member(connection, family_id, None, display_name="Ben")
    walk = await create_habit(connection, family_id, anna, name="Walk", sort_order=2)
    read = await create_habit(connection, family_id, anna, name="Read", sort_order=1)
    await add_habit_version(connection, read, number=2, effective_from=days_ago(3))
    bens = await create_habit(connection, family_id, ben, name="Draw", sort_order=0)
    gone = await create_habit(connection, family_id, anna, name="Gone")
    await connection.execute(
        text("update habits set deleted_at = now() where id = :id"), {"id": gone}
    )
    for habit_id in (walk, read, bens, gone):
        await create_checkin(connection, habit_id, days_ago(1))
    await create_checkin(connection, walk, days_ago(2))
    annas_routine = await create_routine(connection, family_id, anna, [walk, read])
    await create_routine(connection, family_id, ben, [bens])

    async with acting_session(connection, settings, owner) as (session, _):
        everything = await read_family(session, family_id, assignee_id=None)
        annas = await read_family(session, family_id, assignee_id=anna)

    assert everything.timezone == "Asia/Tokyo"
    assert [habit.id for habit in everything.habits] == [bens, read, walk]  # by sort order
    assert len(everything.routines) == 2
    assert set(annas.members.values()) == {
        "Someone",
        "Anna",
        "Ben",
    }  # every name (the owner is "Someone")
    assert [habit.id for habit in annas.habits] == [read, walk]
    assert {version.habit_id for version in annas.versions} == {read, walk}
    assert [(v.habit_id, v.number) for v in annas.versions if v.habit_id == read] == [
        (read, 1),
        (read, 2),
    ]
    assert [(c.date, c.habit_id) for c in annas.checkins] == sorted(
        [(days_ago(2), walk), (days_ago(1), walk), (days_ago(1), read)]
    )
    assert [routine.id for routine, _ in annas.routines] == [annas_routine]


async def test_an_outsider_reads_nothing_of_the_family(
    connection: AsyncConnection, settings: Settings
) -> None:
    owner = await create_person(connection, "owner")
    outsider = await create_person(connection, "outsider")
    family_id = await create_family(connection, owner)
    kid = await add_member(connection, family_id, None)
    habit_id = await create_habit(connection, family_id, kid)
    await create_checkin(connection, habit_id, days_ago(1))

    async with acting_session(connection, settings, outsider) as (session, _):
        rows = await read_family(session, family_id, assignee_id=None)

    assert rows.timezone is None
    assert (rows.members, list(rows.habits), list(rows.checkins)) == ({}, [], [])
