"""app.repositories.id_lists: a list of ids sent as one uuid[] parameter, so a lookup of
more ids than a statement may carry parameters (32,767) still answers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.models import FamilyMember
from app.repositories.id_lists import among
from tests.support.habits import Household


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session:
        yield session


async def test_a_lookup_of_forty_thousand_ids_finds_the_rows_among_them(
    session: AsyncSession, household: Household
) -> None:
    wanted = [household.kid_member, household.teen_member]
    ids = [uuid.uuid4() for _ in range(40_000)] + wanted

    found = await session.scalars(select(FamilyMember.id).where(among(FamilyMember.id, ids)))

    assert sorted(found) == sorted(wanted)


async def test_no_ids_find_nothing(session: AsyncSession, household: Household) -> None:
    found = await session.scalars(
        select(FamilyMember.id).where(
            FamilyMember.family_id == household.family_id, among(FamilyMember.id, [])
        )
    )

    assert list(found) == []
