"""Who may do what: every route of Me, Families and members, and Invitations, called by each
kind of caller. The table below is the spec (API.md "Tenancy"): a family the caller is not in
answers 404 exactly like a missing one, a missing role 403, a missing token 401.

Every case runs against fresh families (see `two_families`): family A with an owner, an admin,
a plain member, the login of a managed profile (invited with `member_id`, then accepted), and a
second plain member (`{other}`); the outsider owns family B, with data of its own."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.family_roles import Subject, TwoFamilies, stored_state
from tests.support.tenancy import assert_answer, assert_problem


@dataclass(frozen=True)
class Expect:
    status: int
    code: str | None = None
    # Whether stored data changes; None: a successful non-GET request changes something,
    # anything else changes nothing.
    changes: bool | None = None


NOT_FOUND = Expect(404, "family_not_found")
FORBIDDEN = Expect(403, "insufficient_role")
OWNER_REQUIRED = Expect(403, "owner_required")
LAST_OWNER = Expect(409, "last_owner")
SOLE_OWNER = Expect(409, "sole_owner")
NO_TOKEN = Expect(401, "missing_token")
# Accepting an invitation of a family you are in: your membership back, no use consumed.
ALREADY_IN = Expect(200, changes=False)


@dataclass(frozen=True)
class Row:
    """One route (`"METHOD /path"`, with a body) and what each caller gets.

    Placeholders: {family} family A; {other} A's second plain member; {owner} A's owner's
    member id; {me} the caller's own member id (the outsider's is in family B);
    {invitation} / {token} a pending invitation of A."""

    route: str
    body: dict[str, Any] | None
    owner: Expect | int
    admin: Expect | int
    member: Expect | int
    managed_login: Expect | int
    outsider: Expect | int
    no_token: Expect | int = NO_TOKEN  # the same for every route

    @property
    def method(self) -> str:
        return self.route.split(" ")[0]

    def expect(self, subject: Subject) -> Expect:
        expected = {
            Subject.OWNER: self.owner,
            Subject.ADMIN: self.admin,
            Subject.MEMBER: self.member,
            Subject.MANAGED_LOGIN: self.managed_login,
            Subject.OUTSIDER: self.outsider,
            Subject.ANONYMOUS: self.no_token,
        }[subject]
        return expected if isinstance(expected, Expect) else Expect(expected)

    def changes_data(self, subject: Subject) -> bool:
        expected = self.expect(subject)
        if expected.changes is not None:
            return expected.changes
        return self.method != "GET" and expected.status < 300

    def __str__(self) -> str:
        body = ",".join(f"{key}={value}" for key, value in (self.body or {}).items())
        return f"{self.route} {body}".strip()


FAMILY = "/v1/families/{family}"

# fmt: off
MATRIX = [
    # route, body
    #       owner            admin            member           managed login    outsider
    Row("GET /v1/me", None,
            200,             200,             200,             200,             200),
    Row("PATCH /v1/me", {"full_name": "New Name"},
            200,             200,             200,             200,             200),
    # The owner is A's only owner, and A has other members.
    Row("DELETE /v1/me", None,
            SOLE_OWNER,      204,             204,             204,             204),

    Row("POST /v1/families", {"name": "Another family"},
            201,             201,             201,             201,             201),
    Row("GET /v1/families", None,
            200,             200,             200,             200,             200),
    Row(f"GET {FAMILY}", None,
            200,             200,             200,             200,             NOT_FOUND),
    Row(f"PATCH {FAMILY}", {"name": "Renamed"},
            200,             200,             FORBIDDEN,       FORBIDDEN,       NOT_FOUND),
    Row(f"DELETE {FAMILY}", None,
            204,             FORBIDDEN,       FORBIDDEN,       FORBIDDEN,       NOT_FOUND),

    Row(f"GET {FAMILY}/members", None,
            200,             200,             200,             200,             NOT_FOUND),
    Row(f"POST {FAMILY}/members", {"display_name": "Baby"},
            201,             201,             FORBIDDEN,       FORBIDDEN,       NOT_FOUND),
    Row(f"PATCH {FAMILY}/members/{{other}}", {"display_name": "Renamed"},
            200,             200,             FORBIDDEN,       FORBIDDEN,       NOT_FOUND),
    Row(f"PATCH {FAMILY}/members/{{other}}", {"role": "admin"},
            200,             200,             FORBIDDEN,       FORBIDDEN,       NOT_FOUND),
    Row(f"PATCH {FAMILY}/members/{{other}}", {"role": "owner"},
            200,             OWNER_REQUIRED,  FORBIDDEN,       FORBIDDEN,       NOT_FOUND),
    Row(f"PATCH {FAMILY}/members/{{owner}}", {"role": "member"},
            LAST_OWNER,      OWNER_REQUIRED,  FORBIDDEN,       FORBIDDEN,       NOT_FOUND),
    Row(f"PATCH {FAMILY}/members/{{me}}", {"display_name": "Me"},
            200,             200,             FORBIDDEN,       FORBIDDEN,       NOT_FOUND),
    Row(f"DELETE {FAMILY}/members/{{other}}", None,
            204,             204,             FORBIDDEN,       FORBIDDEN,       NOT_FOUND),
    Row(f"DELETE {FAMILY}/members/{{owner}}", None,
            LAST_OWNER,      OWNER_REQUIRED,  FORBIDDEN,       FORBIDDEN,       NOT_FOUND),
    # Leaving the family.
    Row(f"DELETE {FAMILY}/members/{{me}}", None,
            LAST_OWNER,      204,             204,             204,             NOT_FOUND),

    Row(f"POST {FAMILY}/invitations", {"role": "member"},
            201,             201,             FORBIDDEN,       FORBIDDEN,       NOT_FOUND),
    Row(f"POST {FAMILY}/invitations", {"role": "owner"},
            201,             OWNER_REQUIRED,  FORBIDDEN,       FORBIDDEN,       NOT_FOUND),
    Row(f"GET {FAMILY}/invitations", None,
            200,             200,             FORBIDDEN,       FORBIDDEN,       NOT_FOUND),
    Row(f"DELETE {FAMILY}/invitations/{{invitation}}", None,
            204,             204,             FORBIDDEN,       FORBIDDEN,       NOT_FOUND),
    Row("POST /v1/invitations/accept", {"token": "{token}"},
            ALREADY_IN,      ALREADY_IN,      ALREADY_IN,      ALREADY_IN,      200),
]
# fmt: on

CASES = [
    pytest.param(row, subject, id=f"{row} [{subject}]") for row in MATRIX for subject in Subject
]
HIDDEN_FROM_OUTSIDER = [
    pytest.param(row, id=str(row)) for row in MATRIX if row.outsider == NOT_FOUND
]


async def call(
    client: httpx.AsyncClient,
    families: TwoFamilies,
    row: Row,
    subject: Subject,
    *,
    family_id: uuid.UUID | None = None,
) -> httpx.Response:
    values = {
        "family": family_id or families.family_id,
        "other": families.other_member_id,
        "owner": families.member_ids[Subject.OWNER],
        "me": families.member_ids.get(subject, families.member_ids[Subject.MEMBER]),
        "invitation": families.invitation_id,
        "token": families.invitation_token,
    }
    method, path = row.route.split(" ", 1)
    body = None
    if row.body is not None:
        body = {
            key: value.format(**values) if isinstance(value, str) else value
            for key, value in row.body.items()
        }
    return await client.request(
        method, path.format(**values), json=body, headers=families.headers(subject)
    )


class TestRoleMatrix:
    @pytest.mark.parametrize(("row", "subject"), CASES)
    async def test_answer_and_effect(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        two_families: TwoFamilies,
        row: Row,
        subject: Subject,
    ) -> None:
        expected = row.expect(subject)
        before = await stored_state(connection, two_families)

        response = await call(client, two_families, row, subject)

        assert_answer(response, expected.status, expected.code)
        after = await stored_state(connection, two_families)
        if row.changes_data(subject):
            assert after != before
        else:
            assert after == before


class TestNoExistenceLeak:
    @pytest.mark.parametrize("row", HIDDEN_FROM_OUTSIDER)
    async def test_outsider_gets_exactly_the_404_of_a_missing_family(
        self, client: httpx.AsyncClient, two_families: TwoFamilies, row: Row
    ) -> None:
        hidden = await call(client, two_families, row, Subject.OUTSIDER)
        missing = await call(client, two_families, row, Subject.OUTSIDER, family_id=uuid.uuid4())

        assert_problem(hidden, 404, "family_not_found")
        assert hidden.json() == missing.json()
        assert hidden.headers["content-type"] == missing.headers["content-type"]
        assert two_families.family_name not in hidden.text


class TestDeniedWritesChangeNothing:
    """What the denied caller's family sees afterwards, through the API."""

    @pytest.mark.parametrize(
        ("subject", "status"),
        [(Subject.MEMBER, 403), (Subject.MANAGED_LOGIN, 403), (Subject.OUTSIDER, 404)],
    )
    async def test_denied_rename_keeps_name_and_version(
        self,
        client: httpx.AsyncClient,
        two_families: TwoFamilies,
        subject: Subject,
        status: int,
    ) -> None:
        path = f"/v1/families/{two_families.family_id}"

        denied = await client.patch(
            path, json={"name": "Hijacked"}, headers=two_families.headers(subject)
        )

        assert denied.status_code == status
        family = await client.get(path, headers=two_families.headers(Subject.MEMBER))
        assert family.json()["name"] == two_families.family_name
        assert family.json()["version"] == 1

    async def test_admin_cannot_delete_the_family(
        self, client: httpx.AsyncClient, two_families: TwoFamilies
    ) -> None:
        path = f"/v1/families/{two_families.family_id}"

        denied = await client.delete(path, headers=two_families.headers(Subject.ADMIN))

        assert_problem(denied, 403, "insufficient_role")
        family = await client.get(path, headers=two_families.headers(Subject.OWNER))
        assert family.status_code == 200

    async def test_admin_cannot_make_an_owner(
        self, client: httpx.AsyncClient, two_families: TwoFamilies
    ) -> None:
        other = two_families.other_member_id
        members = f"/v1/families/{two_families.family_id}/members"

        denied = await client.patch(
            f"{members}/{other}",
            json={"role": "owner"},
            headers=two_families.headers(Subject.ADMIN),
        )

        assert_problem(denied, 403, "owner_required")
        listed = await client.get(members, headers=two_families.headers(Subject.ADMIN))
        roles = {item["id"]: item["role"] for item in listed.json()["items"]}
        assert roles[str(other)] == "member"
        assert list(roles.values()).count("owner") == 1

    async def test_member_cannot_remove_another_member(
        self, client: httpx.AsyncClient, two_families: TwoFamilies
    ) -> None:
        other = two_families.other_member_id
        members = f"/v1/families/{two_families.family_id}/members"

        denied = await client.delete(
            f"{members}/{other}", headers=two_families.headers(Subject.MEMBER)
        )

        assert_problem(denied, 403, "insufficient_role")
        listed = await client.get(members, headers=two_families.headers(Subject.MEMBER))
        assert str(other) in {item["id"] for item in listed.json()["items"]}

    async def test_member_cannot_revoke_an_invitation(
        self, client: httpx.AsyncClient, two_families: TwoFamilies
    ) -> None:
        invitations = f"/v1/families/{two_families.family_id}/invitations"

        denied = await client.delete(
            f"{invitations}/{two_families.invitation_id}",
            headers=two_families.headers(Subject.MEMBER),
        )

        assert_problem(denied, 403, "insufficient_role")
        pending = await client.get(invitations, headers=two_families.headers(Subject.ADMIN))
        assert str(two_families.invitation_id) in {item["id"] for item in pending.json()["items"]}


class TestAllowedChanges:
    """The successful writes of the matrix, seen by the rest of the family."""

    async def test_admin_promotes_a_plain_member(
        self, client: httpx.AsyncClient, two_families: TwoFamilies
    ) -> None:
        members = f"/v1/families/{two_families.family_id}/members"
        other = two_families.other_member_id

        response = await client.patch(
            f"{members}/{other}",
            json={"role": "admin"},
            headers=two_families.headers(Subject.ADMIN),
        )

        assert response.status_code == 200
        assert response.json()["role"] == "admin"
        family = await client.get(
            f"/v1/families/{two_families.family_id}", headers=two_families.other.headers
        )
        assert family.json()["my_role"] == "admin"

    async def test_admin_removes_a_member_who_then_sees_nothing(
        self, client: httpx.AsyncClient, two_families: TwoFamilies
    ) -> None:
        family = f"/v1/families/{two_families.family_id}"

        response = await client.delete(
            f"{family}/members/{two_families.other_member_id}",
            headers=two_families.headers(Subject.ADMIN),
        )

        assert response.status_code == 204
        gone = await client.get(family, headers=two_families.other.headers)
        assert_problem(gone, 404, "family_not_found")

    @pytest.mark.parametrize("subject", [Subject.ADMIN, Subject.MEMBER, Subject.MANAGED_LOGIN])
    async def test_leaving_removes_only_the_caller(
        self,
        client: httpx.AsyncClient,
        two_families: TwoFamilies,
        subject: Subject,
    ) -> None:
        family = f"/v1/families/{two_families.family_id}"
        me = two_families.member_ids[subject]

        response = await client.delete(
            f"{family}/members/{me}", headers=two_families.headers(subject)
        )

        assert response.status_code == 204
        assert_problem(
            await client.get(family, headers=two_families.headers(subject)), 404, "family_not_found"
        )
        mine = await client.get("/v1/families", headers=two_families.headers(subject))
        assert mine.json()["items"] == []
        listed = await client.get(f"{family}/members", headers=two_families.headers(Subject.OWNER))
        members = {item["id"]: item for item in listed.json()["items"]}
        if subject == Subject.MANAGED_LOGIN:
            # The child's login leaves; the child's profile stays, managed again.
            assert members[str(me)]["is_managed"] is True
            assert members[str(me)]["user_id"] is None
            assert len(members) == 5
        else:
            assert str(me) not in members
            assert len(members) == 4

    async def test_outsider_joins_with_the_token(
        self, client: httpx.AsyncClient, two_families: TwoFamilies
    ) -> None:
        response = await client.post(
            "/v1/invitations/accept",
            json={"token": two_families.invitation_token},
            headers=two_families.headers(Subject.OUTSIDER),
        )

        assert response.status_code == 200
        assert response.json()["family"]["id"] == str(two_families.family_id)
        assert response.json()["membership"]["role"] == "member"
        family = await client.get(
            f"/v1/families/{two_families.family_id}",
            headers=two_families.headers(Subject.OUTSIDER),
        )
        assert family.json()["my_member_id"] == response.json()["membership"]["id"]


class TestManagedProfileLogin:
    async def test_the_login_is_the_managed_profile(
        self, client: httpx.AsyncClient, two_families: TwoFamilies
    ) -> None:
        headers = two_families.headers(Subject.MANAGED_LOGIN)
        profile = two_families.member_ids[Subject.MANAGED_LOGIN]

        families = await client.get("/v1/families", headers=headers)
        members = await client.get(
            f"/v1/families/{two_families.family_id}/members", headers=headers
        )

        [family] = families.json()["items"]
        assert family["my_member_id"] == str(profile)
        assert family["my_role"] == "member"
        by_id = {item["id"]: item for item in members.json()["items"]}
        child = two_families.people[Subject.MANAGED_LOGIN]
        assert by_id[str(profile)]["user_id"] == str(child.user_id)
        assert by_id[str(profile)]["is_managed"] is False
        assert by_id[str(profile)]["display_name"] == f"{two_families.family_name} child"

    async def test_accepting_again_returns_the_same_membership(
        self, client: httpx.AsyncClient, connection: AsyncConnection, two_families: TwoFamilies
    ) -> None:
        uses_before = await connection.scalar(
            text("select use_count from invitations where id = :id"),
            {"id": two_families.invitation_id},
        )

        response = await client.post(
            "/v1/invitations/accept",
            json={"token": two_families.invitation_token},
            headers=two_families.headers(Subject.MANAGED_LOGIN),
        )

        assert response.status_code == 200
        membership = response.json()["membership"]
        assert membership["id"] == str(two_families.member_ids[Subject.MANAGED_LOGIN])
        uses_after = await connection.scalar(
            text("select use_count from invitations where id = :id"),
            {"id": two_families.invitation_id},
        )
        assert uses_after == uses_before == 0
