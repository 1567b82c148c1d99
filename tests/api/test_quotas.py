"""Quotas: what accumulates is bounded by settings, and reaching a bound is a 409 problem
with a code naming it that changes nothing. A retried create that succeeded is not refused;
freeing room (deleting, revoking) makes room again. Tested with tiny limits."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.problem_codes import is_registered
from tests.conftest import app_on_connection, client_on_connection, make_settings
from tests.support.api_calls import accept_invitation, post_habit
from tests.support.builders import create_person
from tests.support.habits import Household

LIMIT = 2


@pytest.fixture
async def limited(
    database_url: str, connection: AsyncConnection
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        database_url,
        max_families_per_user=LIMIT,
        max_habits_per_family=LIMIT,
        max_managed_profiles_per_family=LIMIT,
        max_pending_invitations_per_family=LIMIT,
        max_versions_per_habit=LIMIT,
    )
    app = app_on_connection(settings, connection)
    async with client_on_connection(app, connection) as client:
        yield client
    await app.state.database.dispose()


def assert_quota(response: httpx.Response, code: str) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert body["limit"] == LIMIT
    # A client switches over the documented enum: the code must be in it.
    assert is_registered(code)


async def _count(connection: AsyncConnection, sql: str, **params: Any) -> int:
    return int(await connection.scalar(text(sql), params) or 0)


async def test_families_per_login(limited: httpx.AsyncClient, connection: AsyncConnection) -> None:
    person = await create_person(connection, "busy")
    ids = [str(uuid.uuid4()) for _ in range(LIMIT)]
    for family_id in ids:
        created = await limited.post(
            "/v1/families", json={"id": family_id, "name": "F"}, headers=person.headers
        )
        assert created.status_code == 201
    refused = await limited.post("/v1/families", json={"name": "One more"}, headers=person.headers)
    assert_quota(refused, "family_quota_reached")
    retried = await limited.post(
        "/v1/families", json={"id": ids[0], "name": "F"}, headers=person.headers
    )
    assert retried.status_code == 200  # a retry of a create that succeeded is no new family
    sql = "select count(*) from family_members where user_id = :user"
    assert await _count(connection, sql, user=person.user_id) == LIMIT


async def test_joining_past_the_quota_is_refused_and_undone(
    limited: httpx.AsyncClient, connection: AsyncConnection, household: Household
) -> None:
    joiner = await create_person(connection, "joiner")
    for _ in range(LIMIT):
        await limited.post("/v1/families", json={"name": "Mine"}, headers=joiner.headers)
    invitation = await limited.post(
        f"/v1/families/{household.family_id}/invitations",
        json={"role": "member"},
        headers=household.owner.headers,
    )
    accepted = await accept_invitation(limited, invitation.json()["token"], joiner)
    assert_quota(accepted, "family_quota_reached")
    sql = "select count(*) from family_members where family_id = :family and user_id = :user"
    assert await _count(connection, sql, family=household.family_id, user=joiner.user_id) == 0
    uses = "select use_count from invitations where id = :id"
    assert await _count(connection, uses, id=uuid.UUID(invitation.json()["id"])) == 0


async def test_habits_per_family(
    limited: httpx.AsyncClient, connection: AsyncConnection, household: Household
) -> None:
    url = f"/v1/families/{household.family_id}/habits"
    sql = "select count(*) from habits where family_id = :family and deleted_at is null"
    existing = await _count(connection, sql, family=household.family_id)
    body = {
        "name": "Read",
        "assignee_id": str(household.teen_member),
        "schedule": {"kind": "daily"},
    }
    made = []
    for _ in range(LIMIT - existing):
        created = await limited.post(url, json=body, headers=household.teen.headers)
        assert created.status_code == 201
        made.append(created.json()["id"])
    assert_quota(
        await limited.post(url, json=body, headers=household.teen.headers), "habit_quota_reached"
    )
    assert await _count(connection, sql, family=household.family_id) == LIMIT
    deleted = await limited.delete(f"/v1/habits/{made[-1]}", headers=household.teen.headers)
    assert deleted.status_code == 204
    again = await limited.post(url, json=body, headers=household.teen.headers)
    assert again.status_code == 201  # deleted habits do not count


async def test_managed_profiles_per_family(
    limited: httpx.AsyncClient, connection: AsyncConnection, household: Household
) -> None:
    url = f"/v1/families/{household.family_id}/members"
    sql = "select count(*) from family_members where family_id = :family and user_id is null"
    for _ in range(LIMIT - await _count(connection, sql, family=household.family_id)):
        created = await limited.post(
            url, json={"display_name": "Kid"}, headers=household.admin.headers
        )
        assert created.status_code == 201
    refused = await limited.post(url, json={"display_name": "Kid"}, headers=household.admin.headers)
    assert_quota(refused, "managed_profile_quota_reached")
    assert await _count(connection, sql, family=household.family_id) == LIMIT


async def test_pending_invitations_per_family(
    limited: httpx.AsyncClient, household: Household
) -> None:
    url = f"/v1/families/{household.family_id}/invitations"
    made = []
    for _ in range(LIMIT):
        created = await limited.post(url, json={"role": "member"}, headers=household.admin.headers)
        assert created.status_code == 201
        made.append(created.json()["id"])
    refused = await limited.post(url, json={"role": "member"}, headers=household.admin.headers)
    assert_quota(refused, "invitation_quota_reached")
    revoked = await limited.delete(f"{url}/{made[0]}", headers=household.admin.headers)
    assert revoked.status_code == 204
    again = await limited.post(url, json={"role": "member"}, headers=household.admin.headers)
    assert again.status_code == 201  # revoked invitations are not pending


async def test_versions_per_habit(limited: httpx.AsyncClient, household: Household) -> None:
    created = await post_habit(
        limited,
        household.family_id,
        household.owner,
        {
            "name": "Walk",
            "assignee_id": str(household.teen_member),
            "schedule": {"kind": "daily"},
        },
    )
    habit = f"/v1/habits/{created.json()['id']}"
    weekdays = {"schedule": {"kind": "weekdays", "weekdays": [1, 3, 5]}}
    changed = await limited.patch(habit, json=weekdays, headers=household.owner.headers)
    assert changed.status_code == 200
    refused = await limited.patch(
        habit, json={"schedule": {"kind": "daily"}}, headers=household.owner.headers
    )
    assert_quota(refused, "habit_version_quota_reached")
    versions = await limited.get(f"{habit}/versions", headers=household.owner.headers)
    assert len(versions.json()["items"]) == LIMIT
    renamed = await limited.patch(habit, json={"name": "Walk far"}, headers=household.owner.headers)
    assert renamed.status_code == 200  # other changes are no new version
