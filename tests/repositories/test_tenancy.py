"""app.repositories.tenancy: the joins that scope a query to the caller's families. Run as
the owner role (no RLS), so what drops out here drops out because of the join itself."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.models import Habit, SyncChange
from app.models.enums import MemberRole
from app.repositories import tenancy
from tests.repositories.conftest import actor
from tests.support.habits import Household, build_household, create_habit


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """An ORM session on the test's connection as the owner role: RLS does not apply."""
    async with AsyncSession(bind=connection, join_transaction_mode="create_savepoint") as session:
        yield session


class TestFindMembership:
    async def test_a_member_finds_their_own_membership_with_its_role(
        self, session: AsyncSession, household: Household
    ) -> None:
        membership = await tenancy.find_membership(
            session, actor(household.admin), household.family_id
        )

        assert membership is not None
        assert (membership.id, membership.role) == (household.admin_member, MemberRole.ADMIN)

    async def test_an_outsider_and_an_unknown_family_find_none(
        self, session: AsyncSession, household: Household
    ) -> None:
        assert (
            await tenancy.find_membership(session, actor(household.outsider), household.family_id)
            is None
        )
        assert await tenancy.find_membership(session, actor(household.owner), uuid.uuid4()) is None

    async def test_lock_family_holds_the_family_row_until_the_transaction_ends(
        self, live_connection: AsyncConnection, engine: AsyncEngine
    ) -> None:
        household = await build_household(live_connection)
        await live_connection.commit()

        async def family_is_locked() -> bool:
            async with engine.connect() as other:
                try:
                    await other.execute(
                        text("select 1 from families where id = :id for update nowait"),
                        {"id": household.family_id},
                    )
                except DBAPIError:
                    return True
                return False

        async with AsyncSession(bind=live_connection) as session:
            await tenancy.find_membership(session, actor(household.owner), household.family_id)
            assert not await family_is_locked()
            found = await tenancy.find_membership(
                session, actor(household.owner), household.family_id, lock_family=True
            )
            assert found is not None
            assert await family_is_locked()
            await session.rollback()
        assert not await family_is_locked()


class TestJoins:
    async def test_with_my_membership_drops_rows_of_other_families(
        self, session: AsyncSession, connection: AsyncConnection, household: Household
    ) -> None:
        mine = await create_habit(connection, household.family_id, household.teen_member)
        theirs = await create_habit(
            connection, household.outsider_family_id, household.outsider_member
        )
        query, _ = tenancy.with_my_membership(
            select(Habit.id), actor(household.teen), Habit.family_id
        )

        rows = (await session.execute(query.where(Habit.id.in_([mine, theirs])))).all()

        assert [(row[0], row[1].id) for row in rows] == [(mine, household.teen_member)]

    async def test_families_of_lists_each_of_my_families_with_my_role(
        self, session: AsyncSession, household: Household
    ) -> None:
        rows = (await session.execute(tenancy.families_of(actor(household.outsider)))).all()

        assert [(family.id, mine.role) for family, mine in rows] == [
            (household.outsider_family_id, MemberRole.OWNER)
        ]

    async def test_addressed_to_keeps_only_the_callers_own_rows(
        self, session: AsyncSession, connection: AsyncConnection, household: Household
    ) -> None:
        entity = uuid.uuid4()
        for person in (household.teen, household.outsider):
            await connection.execute(
                text(
                    "insert into sync_changes (family_id, entity_type, entity_id, user_id,"
                    " deleted) values (:family, 'family', :entity, :user, false)"
                ),
                {"family": household.family_id, "entity": entity, "user": person.user_id},
            )

        users = await session.scalars(
            select(SyncChange.user_id).where(
                SyncChange.entity_id == entity,
                tenancy.addressed_to(actor(household.teen), SyncChange.user_id),
            )
        )

        assert list(users) == [household.teen.user_id]


class TestSqlTextJoins:
    """The same join as SQL text, as the asyncpg repositories (habits, boards) build it."""

    async def test_my_membership_join_drops_other_families_and_gives_my_role(
        self, sql: Any, household: Household
    ) -> None:
        statement = (
            "select f.id, me.id as member_id, me.role::text as role from families f "
            f"{tenancy.my_membership_join('me', 'f.id', '$2')} where f.id = any($1::uuid[])"
        )
        families = [household.family_id, household.outsider_family_id]

        rows = await sql.fetch(statement, families, household.admin.user_id)

        assert [tuple(row) for row in rows] == [
            (household.family_id, household.admin_member, "admin")
        ]

    async def test_my_member_ids_are_every_membership_of_mine(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        # The outsider also joins the household as a member.
        joined = uuid.uuid4()
        await connection.execute(
            text(
                "insert into family_members (id, family_id, user_id, display_name, role)"
                " values (:id, :family, :user, 'Guest', 'member')"
            ),
            {"id": joined, "family": household.family_id, "user": household.outsider.user_id},
        )

        ids = await sql.fetchval(
            f"select array({tenancy.my_member_ids('$1')})", household.outsider.user_id
        )

        assert sorted(ids) == sorted([household.outsider_member, joined])
        unknown = await sql.fetchval(f"select array({tenancy.my_member_ids('$1')})", uuid.uuid4())
        assert unknown == []
