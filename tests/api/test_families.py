from __future__ import annotations

import base64
import json
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.enums import MemberRole
from tests.conftest import StatementLog
from tests.support.builders import (
    Person,
    add_member,
    create_family,
    create_member,
    create_owned_family,
    create_person,
)
from tests.support.tenancy import assert_problem, create_invitation, member_roles, scalar


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


async def _family_count(connection: AsyncConnection, person: Person) -> int:
    count: int = await scalar(
        connection, "select count(*) from family_members where user_id = :id", id=person.user_id
    )
    return count


class TestCreate:
    async def test_creates_family_with_caller_as_owner(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "ada")

        response = await client.post(
            "/v1/families",
            json={"name": "Lovelaces", "timezone": "Europe/London"},
            headers=person.headers,
        )

        assert response.status_code == 201
        assert response.headers["etag"] == '"1"'
        body = response.json()
        assert body["name"] == "Lovelaces"
        assert body["timezone"] == "Europe/London"
        assert body["version"] == 1
        assert body["my_role"] == "owner"
        roles = await member_roles(connection, uuid.UUID(body["id"]))
        assert roles == {uuid.UUID(body["my_member_id"]): "owner"}
        user_id = await scalar(
            connection, "select user_id from family_members where id = :id", id=body["my_member_id"]
        )
        assert user_id == person.user_id

    async def test_timezone_defaults_to_utc(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "ada")

        response = await client.post("/v1/families", json={"name": "F"}, headers=person.headers)

        assert response.status_code == 201
        assert response.json()["timezone"] == "UTC"

    async def test_provisions_caller_profile(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "new", provisioned=False)

        response = await client.post("/v1/families", json={"name": "F"}, headers=person.headers)

        assert response.status_code == 201
        me = await client.get("/v1/me", headers=person.headers)
        assert me.json()["id"] == str(person.user_id)

    async def test_retry_with_same_id_and_body_returns_existing(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "ada")
        data = {"id": str(uuid.uuid4()), "name": "Lovelaces", "timezone": "Europe/London"}

        first = await client.post("/v1/families", json=data, headers=person.headers)
        retry = await client.post("/v1/families", json=data, headers=person.headers)

        assert first.status_code == 201
        assert retry.status_code == 200
        assert retry.json() == first.json()
        assert first.json()["id"] == data["id"]
        assert retry.headers["etag"] == '"1"'
        assert await _family_count(connection, person) == 1

    async def test_same_id_with_different_body_is_409(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "ada")
        family_id = str(uuid.uuid4())
        await client.post(
            "/v1/families", json={"id": family_id, "name": "One"}, headers=person.headers
        )

        response = await client.post(
            "/v1/families", json={"id": family_id, "name": "Two"}, headers=person.headers
        )

        assert_problem(response, 409, "id_conflict")
        family = await client.get(f"/v1/families/{family_id}", headers=person.headers)
        assert family.json()["name"] == "One"
        assert await _family_count(connection, person) == 1

    async def test_id_of_another_users_family_is_409_without_leak(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        intruder = await create_person(connection, "intruder")
        _, family_id = await create_owned_family(connection, "victim", name="Secret Family")

        # Even the exact body of the existing family must not give it away.
        responses = [
            await client.post(
                "/v1/families", json={"id": str(family_id), "name": name}, headers=intruder.headers
            )
            for name in ("Secret Family", "Guess")
        ]

        for response in responses:
            body = assert_problem(response, 409, "id_conflict")
            assert "Secret" not in response.text
            assert "victim" not in json.dumps(body).lower()
        assert responses[0].json() == responses[1].json()
        assert await _family_count(connection, intruder) == 0
        assert list((await member_roles(connection, family_id)).values()) == ["owner"]

    @pytest.mark.parametrize(
        "data",
        [
            {"name": ""},
            {"name": "   "},
            {"name": "x" * 201},
            {"name": "F", "timezone": "Mars/Olympus"},
            {"name": "F", "id": "not-a-uuid"},
            {"name": "F", "colour": "blue"},
            {},
        ],
    )
    async def test_invalid_body_is_422(
        self, client: httpx.AsyncClient, connection: AsyncConnection, data: dict[str, str]
    ) -> None:
        person = await create_person(connection, "ada")

        response = await client.post("/v1/families", json=data, headers=person.headers)

        body = assert_problem(response, 422, "validation_error")
        assert body["errors"]
        assert await _family_count(connection, person) == 0


class TestList:
    async def test_lists_only_my_families_with_my_role(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "ada")
        mine = await create_family(connection, person, name="Mine")
        stranger, joined = await create_owned_family(connection, "stranger", name="Joined")
        joined_member = await add_member(connection, joined, person, MemberRole.ADMIN)
        await create_family(connection, stranger, name="Not mine")

        response = await client.get("/v1/families", headers=person.headers)

        assert response.status_code == 200
        body = response.json()
        assert body["next_cursor"] is None
        by_id = {item["id"]: item for item in body["items"]}
        assert set(by_id) == {str(mine), str(joined)}
        assert by_id[str(mine)]["my_role"] == "owner"
        assert by_id[str(joined)]["my_role"] == "admin"
        assert by_id[str(joined)]["my_member_id"] == str(joined_member)

    async def test_statement_count_does_not_grow_with_the_families(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        sql_statements: StatementLog,
    ) -> None:
        person = await create_person(connection, "ada")
        counts = []
        for families in (1, 6):
            while (
                len((await client.get("/v1/families", headers=person.headers)).json()["items"])
                < families
            ):
                await create_family(connection, person)
            sql_statements.reset()
            response = await client.get("/v1/families", headers=person.headers)
            assert len(response.json()["items"]) == families
            counts.append(sql_statements.count)
        assert counts[0] == counts[1]

    async def test_limit_1_walks_every_page(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "ada")
        # Created in one transaction: equal created_at, so the id must break the tie.
        family_ids = {str(await create_family(connection, person)) for _ in range(4)}

        seen: list[str] = []
        cursor: str | None = None
        for _ in range(10):
            params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
            response = await client.get("/v1/families", params=params, headers=person.headers)
            assert response.status_code == 200
            page = response.json()
            assert len(page["items"]) <= 1
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break

        assert cursor is None
        assert sorted(seen) == sorted(family_ids)

    async def test_exact_page_size_has_no_next_cursor(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "ada")
        for _ in range(2):
            await create_family(connection, person)

        response = await client.get("/v1/families?limit=2", headers=person.headers)

        assert len(response.json()["items"]) == 2
        assert response.json()["next_cursor"] is None

    @pytest.mark.parametrize("limit", ["0", "201", "-1", "many"])
    async def test_limit_out_of_range_is_422(
        self, client: httpx.AsyncClient, connection: AsyncConnection, limit: str
    ) -> None:
        person = await create_person(connection, "ada")

        response = await client.get(f"/v1/families?limit={limit}", headers=person.headers)

        body = assert_problem(response, 422, "validation_error")
        assert any(error["loc"][-1] == "limit" for error in body["errors"])

    async def test_limit_200_is_allowed(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "ada")

        response = await client.get("/v1/families?limit=200", headers=person.headers)

        assert response.status_code == 200

    @pytest.mark.parametrize(
        "cursor",
        [
            "garbage",
            "!!!",
            _cursor([]),
            _cursor(None),
            _cursor({"a": 1, "b": 2}),
            _cursor([1, 2]),
            _cursor(["2026-01-01T00:00:00+00:00", "not-a-uuid"]),
            _cursor(["yesterday", str(uuid.uuid4())]),
            base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        ],
    )
    async def test_garbage_cursor_is_422(
        self, client: httpx.AsyncClient, connection: AsyncConnection, cursor: str
    ) -> None:
        person = await create_person(connection, "ada")

        response = await client.get(
            "/v1/families", params={"cursor": cursor}, headers=person.headers
        )

        assert_problem(response, 422, "invalid_cursor")

    @pytest.mark.parametrize(
        "created_at", ["2026-01-01T00:00:00", "0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59"]
    )
    async def test_odd_but_decodable_cursor_never_500(
        self, client: httpx.AsyncClient, connection: AsyncConnection, created_at: str
    ) -> None:
        person = await create_person(connection, "ada")

        response = await client.get(
            "/v1/families",
            params={"cursor": _cursor([created_at, str(uuid.uuid4())])},
            headers=person.headers,
        )

        assert response.status_code in (200, 422), response.text


class TestGet:
    async def test_member_reads_family_with_etag(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(connection, name="Home", timezone="Asia/Tokyo")
        person, member_id = await create_member(connection, family_id, "kid")

        response = await client.get(f"/v1/families/{family_id}", headers=person.headers)

        assert response.status_code == 200
        assert response.headers["etag"] == '"1"'
        body = response.json()
        assert (body["name"], body["timezone"]) == ("Home", "Asia/Tokyo")
        assert (body["my_role"], body["my_member_id"]) == ("member", str(member_id))

    async def test_outsider_gets_the_same_404_as_for_a_missing_family(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        outsider = await create_person(connection, "outsider")
        _, family_id = await create_owned_family(connection)

        hidden = await client.get(f"/v1/families/{family_id}", headers=outsider.headers)
        missing = await client.get(f"/v1/families/{uuid.uuid4()}", headers=outsider.headers)

        assert_problem(hidden, 404, "family_not_found")
        assert hidden.json() == missing.json()

    async def test_malformed_id_is_422(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "ada")

        response = await client.get("/v1/families/not-a-uuid", headers=person.headers)

        assert_problem(response, 422, "validation_error")


class TestUpdate:
    async def test_stale_if_match_is_412_and_nothing_changes(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection, name="Before")
        await client.patch(
            f"/v1/families/{family_id}", json={"name": "Second"}, headers=owner.headers
        )

        response = await client.patch(
            f"/v1/families/{family_id}",
            json={"name": "Lost update"},
            headers={**owner.headers, "If-Match": '"1"'},
        )

        assert_problem(response, 412, "version_mismatch")
        family = await client.get(f"/v1/families/{family_id}", headers=owner.headers)
        assert (family.json()["name"], family.json()["version"]) == ("Second", 2)

    @pytest.mark.parametrize("if_match", ['"1"', 'W/"1"', "1"])
    async def test_current_if_match_updates_and_bumps_version(
        self, client: httpx.AsyncClient, connection: AsyncConnection, if_match: str
    ) -> None:
        owner, family_id = await create_owned_family(connection, name="Before")

        response = await client.patch(
            f"/v1/families/{family_id}",
            json={"name": "After", "timezone": "Europe/Paris"},
            headers={**owner.headers, "If-Match": if_match},
        )

        assert response.status_code == 200
        assert response.headers["etag"] == '"2"'
        body = response.json()
        assert (body["name"], body["timezone"], body["version"]) == ("After", "Europe/Paris", 2)
        assert body["my_role"] == "owner"
        family = await client.get(f"/v1/families/{family_id}", headers=owner.headers)
        assert family.headers["etag"] == '"2"'
        assert family.json()["name"] == "After"

    async def test_version_in_body(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection, name="Before")

        current = await client.patch(
            f"/v1/families/{family_id}",
            json={"name": "After", "version": 1},
            headers=owner.headers,
        )
        stale = await client.patch(
            f"/v1/families/{family_id}",
            json={"name": "Lost", "version": 1},
            headers=owner.headers,
        )

        assert current.status_code == 200
        assert current.json()["version"] == 2
        assert_problem(stale, 412, "version_mismatch")
        family = await client.get(f"/v1/families/{family_id}", headers=owner.headers)
        assert (family.json()["name"], family.json()["version"]) == ("After", 2)

    async def test_without_precondition_updates(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)

        first = await client.patch(
            f"/v1/families/{family_id}", json={"name": "A"}, headers=owner.headers
        )
        second = await client.patch(
            f"/v1/families/{family_id}",
            json={"name": "B"},
            headers={**owner.headers, "If-Match": "*"},
        )

        assert (first.json()["version"], second.json()["version"]) == (2, 3)
        assert second.headers["etag"] == '"3"'

    async def test_empty_change_keeps_version(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection, name="Same")

        response = await client.patch(
            f"/v1/families/{family_id}", json={}, headers={**owner.headers, "If-Match": '"1"'}
        )

        assert response.status_code == 200
        assert response.json()["version"] == 1
        assert response.json()["name"] == "Same"

    @pytest.mark.parametrize(
        "if_match", ['"abc"', "v1", '"-1"', '"1.5"', '"99999999999999999999"', '"\u00b2"']
    )
    async def test_invalid_if_match_is_400_and_nothing_changes(
        self, client: httpx.AsyncClient, connection: AsyncConnection, if_match: str
    ) -> None:
        owner, family_id = await create_owned_family(connection, name="Before")

        response = await client.patch(
            f"/v1/families/{family_id}",
            json={"name": "After"},
            headers=[
                *((name.encode(), value.encode()) for name, value in owner.headers.items()),
                (b"if-match", if_match.encode("latin-1")),  # "²" is a latin-1 header byte
            ],
        )

        assert_problem(response, 400, "invalid_if_match")
        family = await client.get(f"/v1/families/{family_id}", headers=owner.headers)
        assert (family.json()["name"], family.json()["version"]) == ("Before", 1)

    async def test_admin_may_update(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(connection)
        admin, _ = await create_member(connection, family_id, "admin", MemberRole.ADMIN)

        response = await client.patch(
            f"/v1/families/{family_id}", json={"name": "Renamed"}, headers=admin.headers
        )

        assert response.status_code == 200
        assert response.json()["my_role"] == "admin"

    async def test_member_is_403_and_outsider_404(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        outsider = await create_person(connection, "outsider")
        _, family_id = await create_owned_family(connection, name="Before")
        member, _ = await create_member(connection, family_id)

        as_member = await client.patch(
            f"/v1/families/{family_id}", json={"name": "X"}, headers=member.headers
        )
        as_outsider = await client.patch(
            f"/v1/families/{family_id}", json={"name": "X"}, headers=outsider.headers
        )

        assert_problem(as_member, 403, "insufficient_role")
        assert_problem(as_outsider, 404, "family_not_found")
        name = await scalar(connection, "select name from families where id = :id", id=family_id)
        assert name == "Before"

    async def test_version_beyond_any_issued_is_never_a_500(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection, name="Before")

        response = await client.patch(
            f"/v1/families/{family_id}",
            json={"name": "After", "version": 10**20},
            headers=owner.headers,
        )

        assert response.status_code in (412, 422), response.text
        assert response.headers["content-type"] == "application/problem+json"
        name = await scalar(connection, "select name from families where id = :id", id=family_id)
        assert name == "Before"

    @pytest.mark.parametrize(
        "changes", [{"name": ""}, {"timezone": "Nowhere/Land"}, {"version": 0}, {"owner": "x"}]
    )
    async def test_invalid_changes_are_422(
        self, client: httpx.AsyncClient, connection: AsyncConnection, changes: dict[str, object]
    ) -> None:
        owner, family_id = await create_owned_family(connection)

        response = await client.patch(
            f"/v1/families/{family_id}", json=changes, headers=owner.headers
        )

        assert_problem(response, 422, "validation_error")


class TestDelete:
    async def test_owner_deletes_family_with_everything_in_it(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        await create_member(connection, family_id)
        await add_member(connection, family_id, None, display_name="Kid")
        await create_invitation(connection, family_id)
        other_family = await create_family(connection, owner, name="Other")

        response = await client.delete(f"/v1/families/{family_id}", headers=owner.headers)

        assert response.status_code == 204
        for table in ("families", "family_members", "invitations"):
            column = "id" if table == "families" else "family_id"
            remaining = await scalar(
                connection, f"select count(*) from {table} where {column} = :id", id=family_id
            )
            assert remaining == 0, table
        assert await member_roles(connection, other_family)
        gone = await client.get(f"/v1/families/{family_id}", headers=owner.headers)
        assert_problem(gone, 404, "family_not_found")

    async def test_admin_is_403_and_family_stays(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(connection)
        admin, _ = await create_member(connection, family_id, "admin", MemberRole.ADMIN)

        response = await client.delete(f"/v1/families/{family_id}", headers=admin.headers)

        assert_problem(response, 403, "insufficient_role")
        assert len(await member_roles(connection, family_id)) == 2

    async def test_outsider_is_404_and_family_stays(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        outsider = await create_person(connection, "outsider")
        _, family_id = await create_owned_family(connection)

        response = await client.delete(f"/v1/families/{family_id}", headers=outsider.headers)

        assert_problem(response, 404, "family_not_found")
        assert len(await member_roles(connection, family_id)) == 1


class TestOfflineOwnMembershipId:
    async def test_client_chosen_member_id_is_the_owner_membership(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await create_person(connection, "offline")
        family_id, member_id = uuid.uuid4(), uuid.uuid4()
        body = {"id": str(family_id), "name": "Offline", "my_member_id": str(member_id)}
        created = await client.post("/v1/families", json=body, headers=person.headers)
        assert created.status_code == 201, created.text
        assert created.json()["my_member_id"] == str(member_id)
        again = await client.post("/v1/families", json=body, headers=person.headers)
        assert again.status_code == 200
        other = {**body, "my_member_id": str(uuid.uuid4())}
        conflict = await client.post("/v1/families", json=other, headers=person.headers)
        assert conflict.status_code == 409
        assert conflict.json()["code"] == "id_conflict"
