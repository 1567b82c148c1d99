"""Sync repository: the change log rows of the caller's families only, in (txid, seq)
order a page at a time; a joined family's snapshot in (kind, id) order; entities by id."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.config import Settings
from app.models.enums import MemberRole
from app.repositories import sync as sync_repo
from app.repositories.sync import NIL_UUID, SNAPSHOT_KINDS
from tests.support.acting_session import acting_session
from tests.support.builders import add_member, create_family, create_person
from tests.support.habits import create_habit, create_routine

# The test's writes are one transaction, not yet below any horizon: take them all.
EVERYTHING = {"from_txid": 0, "below_txid": 2**62}


async def test_the_log_holds_my_families_rows_and_my_own_in_order_a_page_at_a_time(
    connection: AsyncConnection, settings: Settings
) -> None:
    me = await create_person(connection, "me")
    other = await create_person(connection, "other")
    mine = await create_family(connection, me)
    theirs = await create_family(connection, other, name="Theirs")
    kid = await add_member(connection, mine, None)
    await create_habit(connection, mine, kid)
    await create_habit(connection, theirs, await add_member(connection, theirs, None))

    async with acting_session(connection, settings, me) as (session, actor):
        everything = await sync_repo.log_page(session, actor, **EVERYTHING, after=(0, 0), size=1000)
        first = await sync_repo.log_page(session, actor, **EVERYTHING, after=(0, 0), size=2)
        last = first[-1]
        rest = await sync_repo.log_page(
            session, actor, **EVERYTHING, after=(last.txid, last.seq), size=1000
        )
        nothing_yet = await sync_repo.log_page(
            session, actor, from_txid=0, below_txid=1, after=(0, 0), size=1000
        )

    assert len(everything) > 2
    assert {row.family_id for row in everything} == {mine}
    assert all(row.user_id in (None, me.user_id) for row in everything)
    assert any(row.user_id == me.user_id for row in everything)  # "you joined"
    keys = [(row.txid, row.seq) for row in everything]
    assert keys == sorted(keys)
    assert [row.seq for row in first + rest] == [row.seq for row in everything]
    assert nothing_yet == []


async def test_a_snapshot_walks_live_contents_kind_by_kind_in_id_order(
    connection: AsyncConnection, settings: Settings
) -> None:
    owner = await create_person(connection, "owner")
    outsider = await create_person(connection, "outsider")
    family_id = await create_family(connection, owner)
    kid = await add_member(connection, family_id, None)
    habits = [await create_habit(connection, family_id, kid, name=f"H{n}") for n in range(3)]
    await connection.execute(
        text("update habits set deleted_at = now() where id = :id"), {"id": habits[0]}
    )
    await create_routine(connection, family_id, kid, habits[1:])
    other_family = await create_family(connection, owner, name="Other")
    await add_member(connection, other_family, None)

    async with acting_session(connection, settings, owner) as (session, _):
        walked: list[tuple[int, uuid.UUID]] = []
        kind, after_id = 0, NIL_UUID
        while page := await sync_repo.snapshot_ids(
            session, family_id, kind=kind, after_id=after_id, limit=3
        ):
            walked += page
            kind, after_id = page[-1]
    async with acting_session(connection, settings, outsider) as (session, _):
        hidden = await sync_repo.snapshot_ids(
            session, family_id, kind=0, after_id=NIL_UUID, limit=100
        )

    assert walked == sorted(walked)
    counts = {
        name: sum(1 for k, _ in walked if SNAPSHOT_KINDS[k] == name) for name in SNAPSHOT_KINDS
    }
    assert counts == {
        "member": 2,  # the owner and the kid; not the other family's
        "habit": 2,  # the deleted one left out
        "habit_version": 3,  # versions stay with a deleted habit's history
        "routine": 1,
        "routine_version": 1,
        "checkin": 0,
    }
    assert habits[0] not in {entity_id for _, entity_id in walked}
    assert hidden == []


async def test_entities_by_id_are_those_the_caller_can_still_see(
    connection: AsyncConnection, settings: Settings
) -> None:
    me = await create_person(connection, "me")
    other = await create_person(connection, "other")
    mine = await create_family(connection, me)
    theirs = await create_family(connection, other, name="Theirs")
    await add_member(connection, theirs, me, MemberRole.MEMBER)
    elsewhere = await create_family(connection, other, name="Elsewhere")
    stranger = await add_member(connection, elsewhere, None)
    kid = await add_member(connection, mine, None)
    routine_id = await create_routine(connection, mine, kid, [])
    deleted_routine = await create_routine(connection, mine, kid, [], name="Gone")
    await connection.execute(
        text("update routines set deleted_at = now() where id = :id"), {"id": deleted_routine}
    )

    async with acting_session(connection, settings, me) as (session, actor):
        families = await sync_repo.my_families(session, actor, [mine, theirs, elsewhere])
        members = await sync_repo.members(session, [kid, stranger])
        routines = await sync_repo.live_routines(session, [routine_id, deleted_routine])
        versions = await sync_repo.routine_versions(session, [], current_of=[routine_id])

    assert {row.family.id: row.membership.role for row in families} == {
        mine: MemberRole.OWNER,
        theirs: MemberRole.MEMBER,
    }
    assert [member.id for member in members] == [kid]
    assert [routine.id for routine in routines] == [routine_id]
    assert [(version.routine_id, version.number) for version in versions] == [(routine_id, 1)]
