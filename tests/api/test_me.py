from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.enums import MemberRole
from tests.support.builders import (
    Person,
    add_member,
    create_family,
    create_member,
    create_owned_family,
    create_person,
)
from tests.support.tenancy import assert_problem, headers_with_claims, member_roles, scalar


async def _assert_gone_and_owner_stays(
    connection: AsyncConnection, person: Person, family_id: uuid.UUID
) -> None:
    """The person has no profile and no membership left; the family keeps only its owner."""
    assert (
        await scalar(
            connection, "select count(*) from public.users where id = :id", id=person.user_id
        )
        == 0
    )
    assert (
        await scalar(
            connection,
            "select count(*) from family_members where user_id = :id",
            id=person.user_id,
        )
        == 0
    )
    assert list((await member_roles(connection, family_id)).values()) == ["owner"]


class TestGet:
    async def test_first_call_provisions_profile_from_token(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "ada", provisioned=False)
        headers = headers_with_claims(person, user_metadata={"full_name": "Ada Lovelace"})

        response = await client.get("/v1/me", headers=headers)

        assert response.status_code == 200
        body = response.json()
        assert body["id"] == str(person.user_id)
        assert body["email"] == person.email
        assert body["full_name"] == "Ada Lovelace"
        assert body["timezone"] == "UTC"
        assert body["day_start_hour"] == 0
        assert body["notification_enabled"] is True
        assert body["created_at"]
        assert body["updated_at"]
        stored = await scalar(
            connection, "select full_name from public.users where id = :id", id=person.user_id
        )
        assert stored == "Ada Lovelace"

    async def test_without_name_in_token_full_name_is_null(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "anon", provisioned=False)

        response = await client.get("/v1/me", headers=person.headers)

        assert response.status_code == 200
        assert response.json()["full_name"] is None
        assert response.json()["email"] == person.email

    async def test_second_call_returns_the_same_profile(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "ada", provisioned=False)
        headers = headers_with_claims(person, user_metadata={"full_name": "Ada Lovelace"})

        first = await client.get("/v1/me", headers=headers)
        second = await client.get("/v1/me", headers=headers)

        assert first.status_code == second.status_code == 200
        assert second.json() == first.json()
        rows = await scalar(
            connection, "select count(*) from public.users where id = :id", id=person.user_id
        )
        assert rows == 1

    async def test_token_metadata_does_not_overwrite_existing_profile(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "ada")
        headers = headers_with_claims(person, user_metadata={"full_name": "Someone Else"})

        response = await client.get("/v1/me", headers=headers)

        assert response.status_code == 200
        assert response.json()["full_name"] == "Ada"

    async def test_without_token_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/me")

        assert_problem(response, 401, "missing_token")
        assert response.headers["www-authenticate"] == "Bearer"


class TestUpdate:
    async def test_changes_settings(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "ada")
        changes = {
            "full_name": "Ada King",
            "timezone": "Europe/Berlin",
            "day_start_hour": 4,
            "notification_enabled": False,
        }

        response = await client.patch("/v1/me", json=changes, headers=person.headers)

        assert response.status_code == 200
        assert {key: response.json()[key] for key in changes} == changes
        again = await client.get("/v1/me", headers=person.headers)
        assert {key: again.json()[key] for key in changes} == changes

    async def test_omitted_fields_stay_as_they_are(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "ada")
        await client.patch(
            "/v1/me", json={"timezone": "Asia/Tokyo", "day_start_hour": 5}, headers=person.headers
        )

        response = await client.patch("/v1/me", json={"full_name": "A"}, headers=person.headers)

        assert response.status_code == 200
        assert response.json()["timezone"] == "Asia/Tokyo"
        assert response.json()["day_start_hour"] == 5

    async def test_first_call_may_be_a_patch(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "new", provisioned=False)

        response = await client.patch(
            "/v1/me", json={"timezone": "America/New_York"}, headers=person.headers
        )

        assert response.status_code == 200
        assert response.json()["id"] == str(person.user_id)
        assert response.json()["timezone"] == "America/New_York"

    async def test_unknown_timezone_is_422_and_nothing_changes(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "ada")
        before = (await client.get("/v1/me", headers=person.headers)).json()

        response = await client.patch(
            "/v1/me",
            json={"timezone": "Mars/Olympus", "full_name": "Changed"},
            headers=person.headers,
        )

        body = assert_problem(response, 422, "validation_error")
        assert body["errors"], body
        for error in body["errors"]:
            assert set(error) == {"loc", "msg", "type"}
        assert any(error["loc"][-1] == "timezone" for error in body["errors"])
        after = (await client.get("/v1/me", headers=person.headers)).json()
        assert after == before

    @pytest.mark.parametrize("hour", [24, -1, 100])
    async def test_day_start_hour_out_of_range_is_422(
        self, client: httpx.AsyncClient, connection: AsyncConnection, hour: int
    ) -> None:
        person = await create_person(connection, "ada")

        response = await client.patch(
            "/v1/me", json={"day_start_hour": hour}, headers=person.headers
        )

        body = assert_problem(response, 422, "validation_error")
        assert any(error["loc"][-1] == "day_start_hour" for error in body["errors"])
        after = (await client.get("/v1/me", headers=person.headers)).json()
        assert after["day_start_hour"] == 0

    @pytest.mark.parametrize("hour", [0, 23])
    async def test_day_start_hour_bounds_are_accepted(
        self, client: httpx.AsyncClient, connection: AsyncConnection, hour: int
    ) -> None:
        person = await create_person(connection, "ada")

        response = await client.patch(
            "/v1/me", json={"day_start_hour": hour}, headers=person.headers
        )

        assert response.status_code == 200
        assert response.json()["day_start_hour"] == hour

    async def test_unstorable_name_is_422_not_500(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "ada")

        response = await client.patch(
            "/v1/me", json={"full_name": "Ada\u0000King"}, headers=person.headers
        )

        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"]
        after = (await client.get("/v1/me", headers=person.headers)).json()
        assert after["full_name"] == "Ada"

    @pytest.mark.parametrize(
        "changes", [{"nickname": "Ada"}, {"id": "6f1c4a52-0000-4000-8000-000000000000"}]
    )
    async def test_unknown_fields_are_422(
        self, client: httpx.AsyncClient, connection: AsyncConnection, changes: dict[str, str]
    ) -> None:
        person = await create_person(connection, "ada")

        response = await client.patch("/v1/me", json=changes, headers=person.headers)

        body = assert_problem(response, 422, "validation_error")
        field = next(iter(changes))
        assert any(error["loc"][-1] == field for error in body["errors"])


class TestDelete:
    async def test_deletes_profile_and_memberships(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(connection)
        person, _ = await create_member(connection, family_id, "leaver", MemberRole.ADMIN)

        response = await client.delete("/v1/me", headers=person.headers)

        assert response.status_code == 204
        assert response.content == b""
        await _assert_gone_and_owner_stays(connection, person, family_id)

    async def test_deletes_families_where_the_caller_was_alone(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person, family_id = await create_owned_family(connection, "solo")

        response = await client.delete("/v1/me", headers=person.headers)

        assert response.status_code == 204
        assert (
            await scalar(connection, "select count(*) from families where id = :id", id=family_id)
            == 0
        )

    async def test_family_with_another_owner_survives(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person, family_id = await create_owned_family(connection, "leaver")
        other, other_member = await create_member(connection, family_id, "other", MemberRole.OWNER)
        await add_member(connection, family_id, None, display_name="Kid")

        response = await client.delete("/v1/me", headers=person.headers)

        assert response.status_code == 204
        roles = await member_roles(connection, family_id)
        assert len(roles) == 2
        assert roles[other_member] == "owner"
        family = await client.get(f"/v1/families/{family_id}", headers=other.headers)
        assert family.status_code == 200
        assert family.json()["my_role"] == "owner"

    @pytest.mark.parametrize("other_is_managed", [False, True])
    async def test_sole_owner_of_family_with_others_is_409_and_nothing_changes(
        self, client: httpx.AsyncClient, connection: AsyncConnection, other_is_managed: bool
    ) -> None:
        person = await create_person(connection, "owner")
        other = None if other_is_managed else await create_person(connection, "admin")
        shared = await create_family(connection, person, name="Shared")
        await add_member(connection, shared, other, MemberRole.MEMBER)
        alone = await create_family(connection, person, name="Alone")
        shared_before = await member_roles(connection, shared)

        response = await client.delete("/v1/me", headers=person.headers)

        body = assert_problem(response, 409, "sole_owner")
        assert str(shared) in body["family_ids"]
        assert str(alone) not in body["family_ids"]
        me = await client.get("/v1/me", headers=person.headers)
        assert me.json()["full_name"] == "Owner"
        assert await member_roles(connection, shared) == shared_before
        assert (
            await scalar(connection, "select count(*) from families where id = :id", id=alone) == 1
        )

    async def test_admin_of_family_does_not_block(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(connection)
        person, _ = await create_member(connection, family_id, "admin", MemberRole.ADMIN)
        await add_member(connection, family_id, None, display_name="Kid")

        response = await client.delete("/v1/me", headers=person.headers)

        assert response.status_code == 204
        assert len(await member_roles(connection, family_id)) == 2


class TestAuthUserDeleted:
    """Supabase deletes the `auth.users` row when an account is deleted; the profile and
    memberships go with it."""

    async def test_cascades_to_profile_and_memberships(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(connection)
        person, _ = await create_member(connection, family_id, "gone")

        await connection.execute(
            text("delete from auth.users where id = :id"), {"id": person.user_id}
        )

        await _assert_gone_and_owner_stays(connection, person, family_id)
        response = await client.get("/v1/me", headers=person.headers)
        assert_problem(response, 401, "user_not_found")
