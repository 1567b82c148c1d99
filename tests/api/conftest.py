from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.family_roles import TwoFamilies, build_two_families
from tests.support.habits import Household, build_household


@pytest.fixture
async def two_families(connection: AsyncConnection, client: httpx.AsyncClient) -> TwoFamilies:
    """Family A with an owner, an admin, a member and a managed-profile login; an outsider
    who owns family B."""
    return await build_two_families(connection, client)


@pytest.fixture
async def household(connection: AsyncConnection) -> Household:
    """A UTC family with two parents, a teen with a login, a managed kid; and an outsider."""
    return await build_household(connection)
