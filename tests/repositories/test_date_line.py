"""Date-line skips: written for the person's own due habits in every family (or for a
family's managed profiles), never over an existing check-in, never for anyone else."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.config import Settings
from app.repositories.date_line import skip_jumped_dates, skip_jumped_dates_of_managed_profiles
from tests.support.acting_session import acting_session
from tests.support.builders import add_member, create_family, create_person
from tests.support.habits import create_checkin, create_habit, days_ago


async def _skips(connection: AsyncConnection, habit_id: uuid.UUID) -> list[object]:
    rows = await connection.execute(
        text("select date from checkins where habit_id = :h and status = 'skipped' order by date"),
        {"h": habit_id},
    )
    return list(rows.scalars())


async def test_a_travellers_habits_in_every_family_are_skipped_but_no_one_elses(
    connection: AsyncConnection, settings: Settings
) -> None:
    me = await create_person(connection, "me")
    partner = await create_person(connection, "partner")
    home = await create_family(connection, me)
    club = await create_family(connection, partner, name="Club")
    my_club_id = await add_member(connection, club, me)
    my_home_id = (
        await connection.execute(
            text("select id from family_members where family_id = :f and user_id = :u"),
            {"f": home, "u": me.user_id},
        )
    ).scalar_one()
    kid = await add_member(connection, home, None)
    mine_at_home = await create_habit(connection, home, my_home_id)
    mine_at_club = await create_habit(connection, club, my_club_id)
    kids = await create_habit(connection, home, kid)
    jumped = [days_ago(2), days_ago(1)]
    await create_checkin(connection, mine_at_home, jumped[0])  # done already: stays done

    async with acting_session(connection, settings, me) as (session, _):
        await skip_jumped_dates(session, me.user_id, jumped)
        await skip_jumped_dates(session, me.user_id, [])  # nothing jumped: nothing written

    assert await _skips(connection, mine_at_home) == [jumped[1]]
    assert await _skips(connection, mine_at_club) == jumped
    assert await _skips(connection, kids) == []


async def test_a_familys_clock_change_skips_its_managed_profiles_only(
    connection: AsyncConnection, settings: Settings
) -> None:
    owner = await create_person(connection, "owner")
    family_id = await create_family(connection, owner)
    owner_member = (
        await connection.execute(
            text("select id from family_members where family_id = :f"), {"f": family_id}
        )
    ).scalar_one()
    kid = await add_member(connection, family_id, None)
    kids = await create_habit(connection, family_id, kid)
    owners = await create_habit(connection, family_id, owner_member)

    async with acting_session(connection, settings, owner) as (session, _):
        await skip_jumped_dates_of_managed_profiles(
            session, family_id, owner.user_id, [days_ago(1)]
        )

    assert await _skips(connection, kids) == [days_ago(1)]
    assert await _skips(connection, owners) == []
