"""Repositories are called with the asyncpg connection of a transaction; here, the test's
own (rolled back at the end), as the owner: the SQL's own scoping is what is tested, not
RLS (tests/test_rls_isolation.py covers that)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.actor import Actor
from tests.support.builders import Person
from tests.support.habits import Household, build_household


@pytest.fixture
async def sql(connection: AsyncConnection) -> Any:
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    await connection.execute(text("select"))  # SQLAlchemy begins the test's transaction
    assert driver.is_in_transaction()
    return driver


@pytest.fixture
async def household(connection: AsyncConnection) -> Household:
    """A UTC family with two parents, a teen with a login, a managed kid; and an outsider."""
    return await build_household(connection)


def actor(person: Person) -> Actor:
    return Actor(user_id=person.user_id, email=person.email, claims_json="{}")
