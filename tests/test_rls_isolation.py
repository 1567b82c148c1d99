"""Postgres row-level security on its own: raw SQL in a request-like transaction (the request
role `loopin_api` with the caller's JWT claims, exactly as `configure_transaction` sets them),
bypassing the services on purpose. If a service forgot its tenant filter, this is what would
still stand between family A and family B.

Statements that must fail run in a savepoint (`begin_nested`), since an error aborts the
transaction; role and claims are set before the savepoint, so they survive its rollback."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.config import Settings
from app.db.roles import REQUEST_ROLE
from app.db.transaction import configure_transaction
from app.services.invitations import hash_token
from tests.support.builders import Person, add_member
from tests.support.family_roles import (
    FAMILY_A_SUBJECTS,
    Subject,
    TwoFamilies,
    build_two_families,
    stored_state,
)
from tests.support.sql_roles import (
    INSUFFICIENT_PRIVILEGE,
    back_to_owner,
    raw_context,
    rejected,
)
from tests.support.tenancy import assert_problem

TENANT_TABLES = ("users", "families", "family_members", "invitations")


@pytest.fixture
async def two_families(connection: AsyncConnection, client: httpx.AsyncClient) -> TwoFamilies:
    families = await build_two_families(connection, client)
    # A second row in family B's family_members, one its owner did not create themselves.
    await add_member(connection, families.outsider_family_id, None, display_name="Bravo's child")
    return families


# --- acting as someone inside the test's transaction ------------------------------------------


@asynccontextmanager
async def acting_as(
    connection: AsyncConnection, settings: Settings, person: Person
) -> AsyncIterator[None]:
    """What a request does for this person: the request role, their claims."""
    claims = {
        "sub": str(person.user_id),
        "email": person.email,
        "role": "authenticated",
        "aud": "authenticated",
    }
    await configure_transaction(connection, settings, claims_json=json.dumps(claims))
    try:
        yield
    finally:
        await back_to_owner(connection)


async def visible_ids(connection: AsyncConnection, table: str) -> set[uuid.UUID]:
    rows = await connection.execute(text(f"select * from {table}"))
    return {row._mapping["id"] for row in rows}


async def owned_ids(
    connection: AsyncConnection, table: str, family_id: uuid.UUID
) -> set[uuid.UUID]:
    """A family's rows in a table, read as the owner role (no RLS); for `users`, its logins."""
    queries = {
        "users": "select user_id from family_members where family_id = :f and user_id is not null",
        "families": "select id from families where id = :f",
        "family_members": "select id from family_members where family_id = :f",
        "invitations": "select id from invitations where family_id = :f",
    }
    return set((await connection.scalars(text(queries[table]), {"f": family_id})).all())


def ids_of(families: TwoFamilies, subject: Subject) -> dict[str, Any]:
    """Parameters for the statements below, from the point of view of a family A subject."""
    return {
        "me": families.people[subject].user_id,
        "my_member": families.member_ids[subject],
        "a_family": families.family_id,
        "a_other_member": families.other_member_id,
        "a_owner_member": families.member_ids[Subject.OWNER],
        "a_invitation": families.invitation_id,
        "b_family": families.outsider_family_id,
        "b_user": families.people[Subject.OUTSIDER].user_id,
        "b_member": families.member_ids[Subject.OUTSIDER],
    }


# --- reads ------------------------------------------------------------------------------------


class TestReads:
    @pytest.mark.parametrize("table", TENANT_TABLES)
    @pytest.mark.parametrize("subject", FAMILY_A_SUBJECTS)
    async def test_family_a_sees_its_rows_and_none_of_family_b(
        self,
        connection: AsyncConnection,
        settings: Settings,
        two_families: TwoFamilies,
        subject: Subject,
        table: str,
    ) -> None:
        person = two_families.people[subject]
        rows_of_b = await owned_ids(connection, table, two_families.outsider_family_id)
        rows_of_a = await owned_ids(connection, table, two_families.family_id)
        assert rows_of_b, "family B must have rows here for the test to mean anything"
        expected = {
            "users": rows_of_a,  # co-members read each other's profile (migration 0003)
            "families": rows_of_a,
            "family_members": rows_of_a,
            # invitations hold the family's secrets' hashes: admins only
            "invitations": rows_of_a if subject in (Subject.OWNER, Subject.ADMIN) else set(),
        }[table]

        async with acting_as(connection, settings, person):
            visible = await visible_ids(connection, table)

        assert not visible & rows_of_b
        assert visible == expected


# --- writes -----------------------------------------------------------------------------------

# Each reaches a row of family A when given A's ids (`:family`, `:user`, `:member`), so a 0 for
# family B's ids is RLS at work, not a statement that matches nothing anyway.
CROSS_FAMILY_WRITES = [
    "update families set name = 'Hijacked' where id = :family",
    "delete from families where id = :family",
    "update family_members set display_name = 'Hijacked', role = 'member' where id = :member",
    "delete from family_members where id = :member",
    "update invitations set revoked_at = now() where family_id = :family",
    "delete from invitations where family_id = :family",
    "update users set full_name = 'Hijacked' where id = :user",
    "delete from users where id = :user",
]


class TestWritesIntoAnotherFamily:
    @pytest.mark.parametrize("statement", CROSS_FAMILY_WRITES)
    @pytest.mark.parametrize("subject", [Subject.OWNER, Subject.ADMIN])
    async def test_update_and_delete_reach_no_row_of_family_b(
        self,
        connection: AsyncConnection,
        settings: Settings,
        two_families: TwoFamilies,
        subject: Subject,
        statement: str,
    ) -> None:
        ids = ids_of(two_families, subject)
        before = await stored_state(connection, two_families)

        async with acting_as(connection, settings, two_families.people[subject]):
            result = await connection.execute(
                text(statement),
                {"family": ids["b_family"], "member": ids["b_member"], "user": ids["b_user"]},
            )

        assert result.rowcount == 0
        assert await stored_state(connection, two_families) == before

    @pytest.mark.parametrize("statement", CROSS_FAMILY_WRITES)
    async def test_the_same_statements_reach_the_owners_own_rows(
        self,
        connection: AsyncConnection,
        settings: Settings,
        two_families: TwoFamilies,
        statement: str,
    ) -> None:
        ids = ids_of(two_families, Subject.OWNER)

        async with (
            acting_as(connection, settings, two_families.people[Subject.OWNER]),
            connection.begin_nested() as savepoint,
        ):
            result = await connection.execute(
                text(statement),
                {"family": ids["a_family"], "member": ids["a_other_member"], "user": ids["me"]},
            )
            await savepoint.rollback()

        assert result.rowcount >= 1

    @pytest.mark.parametrize(
        "statement",
        [
            pytest.param(
                "insert into family_members (family_id, user_id, display_name, role)"
                " values (:b_family, :me, 'Intruder', 'owner')",
                id="join-as-owner",
            ),
            pytest.param(
                "insert into family_members (family_id, display_name, role)"
                " values (:b_family, 'Planted', 'member')",
                id="plant-managed-profile",
            ),
            pytest.param(
                "insert into invitations (family_id, token_hash, role, expires_at)"
                " values (:b_family, 'forged', 'owner', now() + interval '1 day')",
                id="forge-invitation",
            ),
            # families are created through create_family(), which makes the caller owner
            pytest.param("insert into families (name) values ('Made directly')", id="new-family"),
            # moving a row of A into B: the new row fails the policy's check
            pytest.param(
                "update family_members set family_id = :b_family where id = :a_other_member",
                id="move-member",
            ),
            pytest.param(
                "update invitations set family_id = :b_family where id = :a_invitation",
                id="move-invitation",
            ),
        ],
    )
    async def test_rows_cannot_be_put_into_family_b(
        self,
        connection: AsyncConnection,
        settings: Settings,
        two_families: TwoFamilies,
        statement: str,
    ) -> None:
        before = await stored_state(connection, two_families)

        async with acting_as(connection, settings, two_families.people[Subject.ADMIN]):
            error = await rejected(connection, statement, ids_of(two_families, Subject.ADMIN))

        assert error.startswith(INSUFFICIENT_PRIVILEGE)
        # moving rows is refused by column grants (family_id is not updatable) before RLS
        assert "row-level security" in error or "permission denied" in error
        assert await stored_state(connection, two_families) == before


class TestAdminCannotEscalateInOwnFamily:
    """RLS, not only the services, keeps the owner rules: an admin bypassing the services
    cannot make themselves owner, touch an owner, or attach a stranger's login."""

    @pytest.mark.parametrize(
        "statement",
        [
            pytest.param(
                "update family_members set role = 'owner' where id = :my_member",
                id="promote-self-to-owner",
            ),
            pytest.param(
                "update family_members set role = 'member' where id = :a_owner_member",
                id="demote-the-owner",
            ),
            pytest.param(
                "delete from family_members where id = :a_owner_member",
                id="remove-the-owner",
            ),
            pytest.param(
                "update family_members set user_id = :b_user where id = :a_other_member",
                id="attach-outsider-login",
            ),
            pytest.param(
                "insert into family_members (family_id, user_id, display_name, role)"
                " values (:a_family, :b_user, 'Smuggled', 'member')",
                id="add-outsider-login",
            ),
            pytest.param(
                "insert into invitations (family_id, token_hash, role, expires_at)"
                " values (:a_family, 'forged', 'owner', now() + interval '1 day')",
                id="owner-invitation",
            ),
        ],
    )
    async def test_refused_and_nothing_changes(
        self,
        connection: AsyncConnection,
        settings: Settings,
        two_families: TwoFamilies,
        statement: str,
    ) -> None:
        before = await stored_state(connection, two_families)
        params = ids_of(two_families, Subject.ADMIN)
        async with acting_as(connection, settings, two_families.people[Subject.ADMIN]):
            outcome = await _attempt(connection, statement, params)
        assert outcome in ("0 rows", "permission denied", "row-level security"), outcome
        assert await stored_state(connection, two_families) == before


async def _attempt(connection: AsyncConnection, statement: str, params: dict[str, Any]) -> str:
    """Run a write in a savepoint and roll it back: '<n> rows', or why it was refused."""
    savepoint = await connection.begin_nested()
    try:
        result = await connection.execute(text(statement), params)
    except DBAPIError as error:
        await savepoint.rollback()
        message = str(error.orig)
        return next(
            (reason for reason in ("permission denied", "row-level security") if reason in message),
            message,
        )
    await savepoint.rollback()
    return f"{result.rowcount} rows"


class TestPlainMemberWrites:
    """A member or a managed-profile login, in their own family."""

    @pytest.mark.parametrize(
        "statement",
        [
            "update families set name = 'Renamed' where id = :a_family",
            "update family_members set role = 'owner' where id = :my_member",
            "update family_members set display_name = 'Renamed' where id = :a_other_member",
            "delete from family_members where id = :a_other_member",
            "update invitations set revoked_at = now() where family_id = :a_family",
            "delete from invitations where family_id = :a_family",
        ],
    )
    @pytest.mark.parametrize("subject", [Subject.MEMBER, Subject.MANAGED_LOGIN])
    async def test_changes_reserved_to_admins_reach_no_row(
        self,
        connection: AsyncConnection,
        settings: Settings,
        two_families: TwoFamilies,
        subject: Subject,
        statement: str,
    ) -> None:
        before = await stored_state(connection, two_families)

        async with acting_as(connection, settings, two_families.people[subject]):
            result = await connection.execute(text(statement), ids_of(two_families, subject))

        assert result.rowcount == 0
        assert await stored_state(connection, two_families) == before

    @pytest.mark.parametrize(
        "statement",
        [
            pytest.param(
                "insert into family_members (family_id, display_name, role)"
                " values (:a_family, 'Sneaky', 'member')",
                id="add-member",
            ),
            pytest.param(
                "insert into invitations (family_id, token_hash, role, expires_at)"
                " values (:a_family, 'forged', 'admin', now() + interval '1 day')",
                id="forge-invitation",
            ),
        ],
    )
    @pytest.mark.parametrize("subject", [Subject.MEMBER, Subject.MANAGED_LOGIN])
    async def test_cannot_add_members_or_invitations(
        self,
        connection: AsyncConnection,
        settings: Settings,
        two_families: TwoFamilies,
        subject: Subject,
        statement: str,
    ) -> None:
        async with acting_as(connection, settings, two_families.people[subject]):
            error = await rejected(connection, statement, ids_of(two_families, subject))

        assert error.startswith(INSUFFICIENT_PRIVILEGE)
        assert "row-level security" in error

    async def test_may_leave(
        self, connection: AsyncConnection, settings: Settings, two_families: TwoFamilies
    ) -> None:
        ids = ids_of(two_families, Subject.MEMBER)

        async with acting_as(connection, settings, two_families.people[Subject.MEMBER]):
            result = await connection.execute(
                text("delete from family_members where id = :my_member"), ids
            )

        assert result.rowcount == 1


# --- no user ----------------------------------------------------------------------------------


class TestAnonRole:
    """`anon` has no privileges on the tenant tables at all (migration 0005 revokes even what
    Supabase's default privileges grant), so Postgres refuses before RLS is even consulted:
    permission denied, not zero rows. Every Data API role is tried on every table and function
    in `tests/test_data_api_matrix.py`."""

    @pytest.mark.parametrize("table", TENANT_TABLES)
    async def test_cannot_read_even_with_a_members_claims(
        self, connection: AsyncConnection, two_families: TwoFamilies, table: str
    ) -> None:
        owner = two_families.people[Subject.OWNER]
        claims = json.dumps({"sub": str(owner.user_id), "role": "anon"})

        async with raw_context(connection, role="anon", claims=claims):
            error = await rejected(connection, f"select * from {table}", {})

        assert error.startswith(INSUFFICIENT_PRIVILEGE)
        assert f"permission denied for table {table}" in error

    @pytest.mark.parametrize(
        "call",
        [
            "select * from public.my_family_ids()",
            "select public.create_family(gen_random_uuid(), 'Anon family', 'UTC', 'Anon')",
            "select * from public.accept_invitation(:hash)",
        ],
    )
    async def test_cannot_call_the_security_definer_functions(
        self, connection: AsyncConnection, two_families: TwoFamilies, call: str
    ) -> None:
        async with raw_context(connection, role="anon", claims=""):
            error = await rejected(
                connection, call, {"hash": hash_token(two_families.invitation_token)}
            )

        assert error.startswith(INSUFFICIENT_PRIVILEGE)
        assert "permission denied for function" in error


# '' is no claims at all, '{}' claims without a user; a stranger is a user in no family.
NO_USER_CLAIMS = [
    pytest.param("", id="no-claims"),
    pytest.param("{}", id="claims-without-sub"),
    pytest.param(json.dumps({"sub": str(uuid.uuid4()), "role": "authenticated"}), id="stranger"),
]


class TestRequestRoleWithoutAUser:
    @pytest.mark.parametrize("table", TENANT_TABLES)
    @pytest.mark.parametrize("claims", NO_USER_CLAIMS)
    async def test_sees_nothing(
        self, connection: AsyncConnection, two_families: TwoFamilies, claims: str, table: str
    ) -> None:
        assert await owned_ids(connection, table, two_families.family_id)

        async with raw_context(connection, role=REQUEST_ROLE, claims=claims):
            visible = await visible_ids(connection, table)

        assert visible == set()

    @pytest.mark.parametrize(
        "call",
        [
            "select public.create_family(gen_random_uuid(), 'Nobody''s', 'UTC', 'Nobody')",
            # the token is a capability, but only for a user
            "select * from public.accept_invitation(:hash)",
        ],
    )
    async def test_functions_refuse_without_a_user(
        self, connection: AsyncConnection, two_families: TwoFamilies, call: str
    ) -> None:
        before = await stored_state(connection, two_families)

        async with raw_context(connection, role=REQUEST_ROLE, claims=""):
            error = await rejected(
                connection, call, {"hash": hash_token(two_families.invitation_token)}
            )

        assert error.startswith(INSUFFICIENT_PRIVILEGE)
        assert "no authenticated user" in error
        assert await stored_state(connection, two_families) == before

    async def test_cannot_insert_a_member(
        self, connection: AsyncConnection, two_families: TwoFamilies
    ) -> None:
        async with raw_context(connection, role=REQUEST_ROLE, claims=""):
            error = await rejected(
                connection,
                "insert into family_members (family_id, display_name, role)"
                " values (:family, 'Ghost', 'member')",
                {"family": two_families.family_id},
            )

        assert error.startswith(INSUFFICIENT_PRIVILEGE)
        assert "row-level security" in error


# --- through the API --------------------------------------------------------------------------


def family_a_routes(families: TwoFamilies) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every family-owned route with family A's ids: the family, each member, the invitation."""
    family = f"/v1/families/{families.family_id}"
    member_ids = [*families.member_ids.values(), families.other_member_id]
    member_ids.remove(families.member_ids[Subject.OUTSIDER])
    routes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", family, None),
        ("PATCH", family, {"name": "Hijacked"}),
        ("DELETE", family, None),
        ("GET", f"{family}/members", None),
        ("POST", f"{family}/members", {"display_name": "Planted"}),
        ("GET", f"{family}/invitations", None),
        ("POST", f"{family}/invitations", {"role": "owner"}),
        ("DELETE", f"{family}/invitations/{families.invitation_id}", None),
    ]
    for member_id in member_ids:
        routes += [
            ("PATCH", f"{family}/members/{member_id}", {"role": "owner"}),
            ("DELETE", f"{family}/members/{member_id}", None),
        ]
    return routes


class TestOutsiderThroughTheApi:
    async def test_every_path_of_family_a_is_404_and_shows_none_of_its_data(
        self, client: httpx.AsyncClient, connection: AsyncConnection, two_families: TwoFamilies
    ) -> None:
        headers = two_families.headers(Subject.OUTSIDER)
        before = await stored_state(connection, two_families)

        for method, path, body in family_a_routes(two_families):
            response = await client.request(method, path, json=body, headers=headers)

            assert_problem(response, 404, "family_not_found")
            assert two_families.family_name not in response.text, (method, path)
        for path in ("/v1/families", "/v1/me"):
            response = await client.get(path, headers=headers)

            assert response.status_code == 200
            assert two_families.family_name not in response.text
            assert str(two_families.family_id) not in response.text
        assert await stored_state(connection, two_families) == before

    async def test_family_a_admin_cannot_reach_family_b_rows_through_a_paths(
        self, client: httpx.AsyncClient, connection: AsyncConnection, two_families: TwoFamilies
    ) -> None:
        family = f"/v1/families/{two_families.family_id}"
        b_member = two_families.member_ids[Subject.OUTSIDER]
        headers = two_families.headers(Subject.ADMIN)
        before = await stored_state(connection, two_families)

        invitations = f"{family}/invitations"
        attempts = [
            ("PATCH", f"{family}/members/{b_member}", {"display_name": "X"}, "member_not_found"),
            ("DELETE", f"{family}/members/{b_member}", None, "member_not_found"),
            (
                "DELETE",
                f"{invitations}/{two_families.outsider_invitation_id}",
                None,
                "invitation_not_found",
            ),
            (
                "POST",
                invitations,
                {"role": "member", "member_id": str(b_member)},
                "member_not_found",
            ),
        ]

        for method, path, body, code in attempts:
            response = await client.request(method, path, json=body, headers=headers)

            assert_problem(response, 404, code)
            assert two_families.outsider_family_name not in response.text
        assert await stored_state(connection, two_families) == before
