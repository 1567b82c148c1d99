"""Versioned rows repository: a habit's or a routine's change applies only at the version
read and counts a new one; a soft delete keeps the row and counts one too."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.config import Settings
from app.models import Habit, Routine
from app.repositories import versioned_rows
from tests.support.acting_session import acting_session
from tests.support.builders import Person, add_member, create_family, create_person
from tests.support.habits import create_habit, create_routine
from tests.support.tenancy import scalar

TABLES = {Habit: "habits", Routine: "routines"}


async def _owner_and_row(
    connection: AsyncConnection, model: type[Habit] | type[Routine]
) -> tuple[Person, uuid.UUID]:
    owner = await create_person(connection, "owner")
    family_id = await create_family(connection, owner)
    kid = await add_member(connection, family_id, None)
    if model is Habit:
        return owner, await create_habit(connection, family_id, kid, name="Before")
    return owner, await create_routine(connection, family_id, kid, [], name="Before")


@pytest.mark.parametrize("model", [Habit, Routine])
async def test_a_change_applies_at_the_version_read_and_counts_a_new_one(
    connection: AsyncConnection, settings: Settings, model: type[Habit] | type[Routine]
) -> None:
    owner, row_id = await _owner_and_row(connection, model)
    table = TABLES[model]

    async with acting_session(connection, settings, owner) as (session, _):
        stale = await versioned_rows.update_at_version(
            session, model, row_id, {"name": "Stale"}, read_version=2
        )
        updated = await versioned_rows.update_at_version(
            session, model, row_id, {"name": "After"}, read_version=1
        )

    assert stale is None
    assert updated is not None
    assert (updated.id, updated.name, updated.version) == (row_id, "After", 2)
    stored = await scalar(
        connection, f"select name || ':' || version from {table} where id = :id", id=row_id
    )
    assert stored == "After:2"


@pytest.mark.parametrize("model", [Habit, Routine])
async def test_a_soft_delete_keeps_the_row_and_counts_a_version(
    connection: AsyncConnection, settings: Settings, model: type[Habit] | type[Routine]
) -> None:
    owner, row_id = await _owner_and_row(connection, model)

    async with acting_session(connection, settings, owner) as (session, _):
        await versioned_rows.soft_delete(session, model, row_id)

    stored = await scalar(
        connection,
        f"select (deleted_at is not null) and version = 2 from {TABLES[model]} where id = :id",
        id=row_id,
    )
    assert stored is True
