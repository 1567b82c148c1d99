from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.enums import MemberRole
from tests.conftest import StatementLog
from tests.support.builders import (
    add_member,
    create_family,
    create_member,
    create_owned_family,
    create_person,
)
from tests.support.habits import member_id_of
from tests.support.tenancy import assert_problem, member_roles, scalar


def _members(family_id: uuid.UUID) -> str:
    return f"/v1/families/{family_id}/members"


def _member(family_id: uuid.UUID, member_id: uuid.UUID) -> str:
    return f"/v1/families/{family_id}/members/{member_id}"


class TestList:
    async def test_member_sees_everyone_including_managed_profiles(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(connection)
        member, member_id = await create_member(connection, family_id, display_name="Bo")
        kid_id = await add_member(connection, family_id, None, display_name="Kid")

        response = await client.get(_members(family_id), headers=member.headers)

        assert response.status_code == 200
        by_id = {item["id"]: item for item in response.json()["items"]}
        assert len(by_id) == 3
        assert by_id[str(member_id)]["user_id"] == str(member.user_id)
        assert by_id[str(member_id)]["display_name"] == "Bo"
        assert by_id[str(member_id)]["is_managed"] is False
        assert by_id[str(kid_id)]["user_id"] is None
        assert by_id[str(kid_id)]["is_managed"] is True
        assert {item["role"] for item in by_id.values()} == {"owner", "member"}

    async def test_statement_count_does_not_grow_with_the_members(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        sql_statements: StatementLog,
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        counts = []
        for extra in (0, 5):
            for index in range(extra):
                await add_member(connection, family_id, None, display_name=f"Kid {index}")
            sql_statements.reset()
            response = await client.get(_members(family_id), headers=owner.headers)
            assert len(response.json()["items"]) == 1 + extra
            counts.append(sql_statements.count)
        assert counts[0] == counts[1]

    async def test_pages_walk_all_members(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        for index in range(3):
            await add_member(connection, family_id, None, display_name=f"Kid {index}")

        seen: list[str] = []
        cursor: str | None = None
        for _ in range(10):
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (
                await client.get(_members(family_id), params=params, headers=owner.headers)
            ).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break

        assert sorted(seen) == sorted(str(m) for m in await member_roles(connection, family_id))

    async def test_outsider_is_404(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        outsider = await create_person(connection, "outsider")
        _, family_id = await create_owned_family(connection)

        response = await client.get(_members(family_id), headers=outsider.headers)

        assert_problem(response, 404, "family_not_found")


class TestCreate:
    async def test_admin_creates_managed_profile(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(connection)
        admin, _ = await create_member(connection, family_id, "admin", MemberRole.ADMIN)

        response = await client.post(
            _members(family_id), json={"display_name": "  Little Tim "}, headers=admin.headers
        )

        assert response.status_code == 201
        body = response.json()
        assert body["is_managed"] is True
        assert body["user_id"] is None
        assert body["role"] == "member"
        assert body["display_name"] == "Little Tim"
        assert body["family_id"] == str(family_id)
        roles = await member_roles(connection, family_id)
        assert roles[uuid.UUID(body["id"])] == "member"

    async def test_member_is_403(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(connection)
        member, _ = await create_member(connection, family_id)

        response = await client.post(
            _members(family_id), json={"display_name": "Kid"}, headers=member.headers
        )

        assert_problem(response, 403, "insufficient_role")
        assert len(await member_roles(connection, family_id)) == 2

    async def test_outsider_is_404(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        outsider = await create_person(connection, "outsider")
        _, family_id = await create_owned_family(connection)

        response = await client.post(
            _members(family_id), json={"display_name": "Kid"}, headers=outsider.headers
        )

        assert_problem(response, 404, "family_not_found")
        assert len(await member_roles(connection, family_id)) == 1

    async def test_retry_with_same_id_returns_existing(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        data = {"id": str(uuid.uuid4()), "display_name": "Kid"}

        first = await client.post(_members(family_id), json=data, headers=owner.headers)
        retry = await client.post(_members(family_id), json=data, headers=owner.headers)

        assert first.status_code == 201
        assert retry.status_code == 200
        assert retry.json() == first.json()
        assert first.json()["id"] == data["id"]
        assert len(await member_roles(connection, family_id)) == 2

    async def test_same_id_with_different_body_is_409(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        member_id = str(uuid.uuid4())
        await client.post(
            _members(family_id),
            json={"id": member_id, "display_name": "Kid"},
            headers=owner.headers,
        )

        response = await client.post(
            _members(family_id),
            json={"id": member_id, "display_name": "Other"},
            headers=owner.headers,
        )

        assert_problem(response, 409, "id_conflict")
        name = await scalar(
            connection, "select display_name from family_members where id = :id", id=member_id
        )
        assert name == "Kid"

    async def test_id_of_a_login_member_is_409(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        owner_member = await member_id_of(connection, family_id, owner.user_id)

        response = await client.post(
            _members(family_id),
            json={"id": str(owner_member), "display_name": "Owner"},
            headers=owner.headers,
        )

        assert_problem(response, 409, "id_conflict")
        assert (await member_roles(connection, family_id)) == {owner_member: "owner"}

    async def test_id_of_another_familys_member_is_409_without_leak(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, victim_family = await create_owned_family(connection, "victim")
        secret_kid = await add_member(connection, victim_family, None, display_name="Secret Kid")
        owner, family_id = await create_owned_family(connection)

        responses = [
            await client.post(
                _members(family_id),
                json={"id": str(secret_kid), "display_name": name},
                headers=owner.headers,
            )
            for name in ("Secret Kid", "Guess")
        ]

        for response in responses:
            assert_problem(response, 409, "id_conflict")
            assert "Secret" not in response.text
        assert responses[0].json() == responses[1].json()
        assert len(await member_roles(connection, family_id)) == 1
        family = await scalar(
            connection, "select family_id from family_members where id = :id", id=secret_kid
        )
        assert family == victim_family

    @pytest.mark.parametrize(
        "data",
        [
            {},
            {"display_name": ""},
            {"display_name": "x" * 101},
            {"display_name": "A", "role": "admin"},
        ],
    )
    async def test_invalid_body_is_422(
        self, client: httpx.AsyncClient, connection: AsyncConnection, data: dict[str, str]
    ) -> None:
        owner, family_id = await create_owned_family(connection)

        response = await client.post(_members(family_id), json=data, headers=owner.headers)

        assert_problem(response, 422, "validation_error")


class TestUpdate:
    async def test_owner_grants_owner(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        _, admin_member = await create_member(connection, family_id, "admin", MemberRole.ADMIN)

        response = await client.patch(
            _member(family_id, admin_member), json={"role": "owner"}, headers=owner.headers
        )

        assert response.status_code == 200
        assert response.json()["role"] == "owner"
        assert (await member_roles(connection, family_id))[admin_member] == "owner"

    async def test_admin_promotes_member_to_admin_and_renames(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(connection)
        admin, _ = await create_member(connection, family_id, "admin", MemberRole.ADMIN)
        _, member_id = await create_member(connection, family_id)

        response = await client.patch(
            _member(family_id, member_id),
            json={"role": "admin", "display_name": "Bo"},
            headers=admin.headers,
        )

        assert response.status_code == 200
        assert (response.json()["role"], response.json()["display_name"]) == ("admin", "Bo")

    @pytest.mark.parametrize(
        ("target_role", "new_role"),
        [(MemberRole.ADMIN, "owner"), (MemberRole.MEMBER, "owner"), (MemberRole.OWNER, "admin")],
    )
    async def test_admin_cannot_grant_or_remove_owner(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        target_role: MemberRole,
        new_role: str,
    ) -> None:
        _, family_id = await create_owned_family(connection)
        admin, _ = await create_member(connection, family_id, "admin", MemberRole.ADMIN)
        _, target_id = await create_member(connection, family_id, "target", target_role)
        before = await member_roles(connection, family_id)

        response = await client.patch(
            _member(family_id, target_id), json={"role": new_role}, headers=admin.headers
        )

        assert_problem(response, 403, "owner_required")
        assert await member_roles(connection, family_id) == before

    async def test_admin_cannot_make_themselves_owner(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(connection)
        admin, admin_member = await create_member(connection, family_id, "admin", MemberRole.ADMIN)

        response = await client.patch(
            _member(family_id, admin_member), json={"role": "owner"}, headers=admin.headers
        )

        assert_problem(response, 403, "owner_required")
        assert (await member_roles(connection, family_id))[admin_member] == "admin"

    async def test_member_cannot_change_roles(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(connection)
        member, member_id = await create_member(connection, family_id)

        response = await client.patch(
            _member(family_id, member_id), json={"role": "admin"}, headers=member.headers
        )

        assert_problem(response, 403, "insufficient_role")
        assert (await member_roles(connection, family_id))[member_id] == "member"

    @pytest.mark.parametrize("new_role", ["admin", "owner"])
    async def test_managed_profile_stays_a_member(
        self, client: httpx.AsyncClient, connection: AsyncConnection, new_role: str
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        kid_id = await add_member(connection, family_id, None, display_name="Kid")

        response = await client.patch(
            _member(family_id, kid_id), json={"role": new_role}, headers=owner.headers
        )

        assert_problem(response, 422, "managed_profile_role")
        assert (await member_roles(connection, family_id))[kid_id] == "member"

    async def test_only_owner_demoting_themselves_is_409(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        await add_member(connection, family_id, None, display_name="Kid")
        owner_member = await member_id_of(connection, family_id, owner.user_id)

        response = await client.patch(
            _member(family_id, owner_member), json={"role": "admin"}, headers=owner.headers
        )

        assert_problem(response, 409, "last_owner")
        assert (await member_roles(connection, family_id))[owner_member] == "owner"

    async def test_with_two_owners_one_may_step_down(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        other, other_member = await create_member(connection, family_id, "other", MemberRole.OWNER)
        owner_member = await member_id_of(connection, family_id, owner.user_id)

        stepped_down = await client.patch(
            _member(family_id, owner_member), json={"role": "member"}, headers=owner.headers
        )
        last = await client.patch(
            _member(family_id, other_member), json={"role": "admin"}, headers=other.headers
        )

        assert stepped_down.status_code == 200
        assert_problem(last, 409, "last_owner")
        assert await member_roles(connection, family_id) == {
            owner_member: "member",
            other_member: "owner",
        }

    async def test_same_role_is_a_no_op_even_for_the_last_owner(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        owner_member = await member_id_of(connection, family_id, owner.user_id)

        response = await client.patch(
            _member(family_id, owner_member),
            json={"role": "owner", "display_name": "Boss"},
            headers=owner.headers,
        )

        assert response.status_code == 200
        assert (response.json()["role"], response.json()["display_name"]) == ("owner", "Boss")

    async def test_member_of_another_family_is_404(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner = await create_person(connection, "owner")
        family_id = await create_family(connection, owner)
        other_family = await create_family(connection, owner, name="Other")
        elsewhere = await add_member(connection, other_family, None, display_name="Kid")

        misplaced = await client.patch(
            _member(family_id, elsewhere), json={"display_name": "X"}, headers=owner.headers
        )
        missing = await client.patch(
            _member(family_id, uuid.uuid4()), json={"display_name": "X"}, headers=owner.headers
        )

        assert_problem(misplaced, 404, "member_not_found")
        assert misplaced.json() == missing.json()
        name = await scalar(
            connection, "select display_name from family_members where id = :id", id=elsewhere
        )
        assert name == "Kid"

    @pytest.mark.parametrize(
        "changes", [{"role": "superuser"}, {"display_name": ""}, {"user_id": str(uuid.uuid4())}]
    )
    async def test_invalid_changes_are_422(
        self, client: httpx.AsyncClient, connection: AsyncConnection, changes: dict[str, str]
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        kid_id = await add_member(connection, family_id, None, display_name="Kid")

        response = await client.patch(
            _member(family_id, kid_id), json=changes, headers=owner.headers
        )

        assert_problem(response, 422, "validation_error")


class TestDelete:
    async def test_admin_removes_member(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(connection)
        admin, _ = await create_member(connection, family_id, "admin", MemberRole.ADMIN)
        member, member_id = await create_member(connection, family_id)
        kid_id = await add_member(connection, family_id, None, display_name="Kid")

        removed_member = await client.delete(_member(family_id, member_id), headers=admin.headers)
        removed_kid = await client.delete(_member(family_id, kid_id), headers=admin.headers)

        assert removed_member.status_code == removed_kid.status_code == 204
        remaining = await member_roles(connection, family_id)
        assert member_id not in remaining
        assert kid_id not in remaining
        assert len(remaining) == 2
        gone = await client.get(f"/v1/families/{family_id}", headers=member.headers)
        assert_problem(gone, 404, "family_not_found")

    @pytest.mark.parametrize("role", [MemberRole.MEMBER, MemberRole.ADMIN])
    async def test_member_leaves(
        self, client: httpx.AsyncClient, connection: AsyncConnection, role: MemberRole
    ) -> None:
        _, family_id = await create_owned_family(connection)
        member, member_id = await create_member(connection, family_id, "member", role)

        response = await client.delete(_member(family_id, member_id), headers=member.headers)

        assert response.status_code == 204
        assert member_id not in await member_roles(connection, family_id)

    async def test_member_cannot_remove_others(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(connection)
        member, _ = await create_member(connection, family_id)
        kid_id = await add_member(connection, family_id, None, display_name="Kid")

        response = await client.delete(_member(family_id, kid_id), headers=member.headers)

        assert_problem(response, 403, "insufficient_role")
        assert kid_id in await member_roles(connection, family_id)

    async def test_admin_cannot_remove_owner(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(connection)
        _, other_member = await create_member(connection, family_id, "other", MemberRole.OWNER)
        admin, _ = await create_member(connection, family_id, "admin", MemberRole.ADMIN)

        response = await client.delete(_member(family_id, other_member), headers=admin.headers)

        assert_problem(response, 403, "owner_required")
        assert (await member_roles(connection, family_id))[other_member] == "owner"

    async def test_only_owner_leaving_is_409(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        await create_member(connection, family_id, "admin", MemberRole.ADMIN)
        owner_member = await member_id_of(connection, family_id, owner.user_id)

        response = await client.delete(_member(family_id, owner_member), headers=owner.headers)

        assert_problem(response, 409, "last_owner")
        assert (await member_roles(connection, family_id))[owner_member] == "owner"

    async def test_with_two_owners_one_may_leave_but_not_both(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        other, other_member = await create_member(connection, family_id, "other", MemberRole.OWNER)
        owner_member = await member_id_of(connection, family_id, owner.user_id)

        left = await client.delete(_member(family_id, owner_member), headers=owner.headers)
        last = await client.delete(_member(family_id, other_member), headers=other.headers)

        assert left.status_code == 204
        assert_problem(last, 409, "last_owner")
        assert await member_roles(connection, family_id) == {other_member: "owner"}

    async def test_owner_removes_another_owner(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        _, other_member = await create_member(connection, family_id, "other", MemberRole.OWNER)

        response = await client.delete(_member(family_id, other_member), headers=owner.headers)

        assert response.status_code == 204
        assert list((await member_roles(connection, family_id)).values()) == ["owner"]

    async def test_member_of_another_family_is_404(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        _, other_family = await create_owned_family(connection, "stranger", name="Other")
        elsewhere = await add_member(connection, other_family, None, display_name="Kid")

        response = await client.delete(_member(family_id, elsewhere), headers=owner.headers)

        assert_problem(response, 404, "member_not_found")
        assert elsewhere in await member_roles(connection, other_family)

    async def test_outsider_is_404(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        outsider = await create_person(connection, "outsider")
        owner, family_id = await create_owned_family(connection)
        owner_member = await member_id_of(connection, family_id, owner.user_id)

        response = await client.delete(_member(family_id, owner_member), headers=outsider.headers)

        assert_problem(response, 404, "family_not_found")
        assert owner_member in await member_roles(connection, family_id)
