"""Loop import repository: an import key is claimed once per member, known keys are the
member's own, and imported rows land in one go."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.config import Settings
from app.models.enums import CheckinStatus, HabitType
from app.repositories import loop_import as imports_repo
from tests.support.acting_session import acting_session
from tests.support.builders import add_member, create_family, create_person
from tests.support.tenancy import scalar


async def test_a_key_is_claimed_once_per_member_and_known_only_to_that_member(
    connection: AsyncConnection, settings: Settings
) -> None:
    owner = await create_person(connection, "owner")
    family_id = await create_family(connection, owner)
    anna = await add_member(connection, family_id, None)
    ben = await add_member(connection, family_id, None)

    async with acting_session(connection, settings, owner) as (session, _):
        first = await imports_repo.claim_key(session, family_id, anna, "loop-file:abc")
        again = await imports_repo.claim_key(session, family_id, anna, "loop-file:abc")
        for_ben = await imports_repo.claim_key(session, family_id, ben, "loop-file:abc")
        await imports_repo.claim_key(session, family_id, ben, "loop-habit:1")
        annas = await imports_repo.known_keys(
            session, anna, ["loop-file:abc", "loop-habit:1", "loop-habit:2"]
        )

    assert (first, again, for_ben) == (True, False, True)
    assert annas == {"loop-file:abc"}


async def test_imported_rows_land_together_and_nothing_is_written_for_none(
    connection: AsyncConnection, settings: Settings
) -> None:
    owner = await create_person(connection, "owner")
    family_id = await create_family(connection, owner)
    kid = await add_member(connection, family_id, None)
    habit_id = uuid.uuid4()
    start = date(2026, 1, 1)

    async with acting_session(connection, settings, owner) as (session, _):
        await imports_repo.insert_imported(
            session, habits=[], versions=[], habit_keys=[], checkins=[]
        )
        await imports_repo.insert_imported(
            session,
            habits=[
                {
                    "id": habit_id,
                    "family_id": family_id,
                    "assignee_id": kid,
                    "name": "Read",
                    "start_date": start,
                    "sort_order": 0,
                }
            ],
            versions=[
                {
                    "habit_id": habit_id,
                    "family_id": family_id,
                    "number": 1,
                    "effective_from": start,
                    "type": HabitType.BOOLEAN,
                    "schedule": {"kind": "daily"},
                }
            ],
            habit_keys=[
                {
                    "family_id": family_id,
                    "member_id": kid,
                    "key": "loop-habit:1",
                    "habit_id": habit_id,
                }
            ],
            checkins=[
                {
                    "habit_id": habit_id,
                    "family_id": family_id,
                    "date": start,
                    "status": CheckinStatus.DONE,
                }
            ],
        )

    for table in ("habits", "habit_versions", "checkins"):
        count = await scalar(
            connection,
            f"select count(*) from {table} where family_id = :f",
            f=family_id,
        )
        assert count == 1, table
    assert (
        await scalar(connection, "select habit_id from import_keys where key = 'loop-habit:1'")
        == habit_id
    )
